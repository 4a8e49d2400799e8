package imapserver

import (
	"gannet/internal/imapwire"
	"gannet/internal/store"
	"strings"
)

// systemFlags returns the flags of RFC 9051 2.3.2 every mailbox supports.
func systemFlags() []string {
	return []string{store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagSeen, store.FlagDraft}
}

// qresyncParams is SELECT's QRESYNC parameter (RFC 7162 3.2.5).
type qresyncParams struct {
	uidValidity uint32
	modSeq      uint64
	known       imapwire.SeqSet // nil = all
}

// cmdSelect is SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3) with the
// CONDSTORE and QRESYNC parameters (RFC 7162 3.1.8, 3.2.5).
func (c *conn) cmdSelect(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	name, err := p.Mailbox()
	if err != nil {
		if isBadName(err) && c.sel != nil {
			// A name no mailbox has: the SELECT fails as for any missing
			// mailbox, which closes the selected one (RFC 9051 6.3.2).
			c.unselect()
		}
		return err
	}
	condstore := false
	var qr *qresyncParams
	if p.Accept(' ') {
		err := p.List(func() error {
			kw, err := p.Keyword()
			if err != nil {
				return err
			}
			switch kw {
			case "CONDSTORE":
				condstore = true
				return nil
			case "QRESYNC":
				qr = &qresyncParams{}
				if err := p.SP(); err != nil {
					return err
				}
				return p.List(func() error { return parseQresync(p, qr) })
			}
			return p.Fail("unknown SELECT parameter")
		})
		if err != nil {
			return err
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	if qr != nil && !c.qresync {
		return errBad("", "QRESYNC is not enabled")
	}
	// RFC 9051 6.3.2: selecting closes the selected mailbox first, without
	// expunging, even when the new SELECT fails.
	if c.sel != nil {
		c.unselect()
		if c.qresync || c.rev2 {
			c.out().Status("", "OK", "CLOSED", "Previous mailbox is now closed")
		}
	}
	mb, err := c.srv.opts.Store.Mailbox(c.ctx, c.acct.ID, name)
	if err != nil {
		return storeErr(err)
	}
	if condstore {
		c.enableCondstore()
	}
	// Listen before reading the mailbox, and look once more at the end
	// (kicked): a change between the two reads is not lost.
	c.selID.Store(mb.ID)
	c.kicked.Store(true)
	// One snapshot of the mailbox without its message rows: a million
	// messages cost a few cheap queries (docs/ARCHITECTURE.md, "Huge mailboxes").
	st, err := c.srv.opts.Store.SelectMailbox(c.ctx, c.acct.ID, mb.ID)
	if err != nil {
		c.selID.Store(0)
		return storeErr(err)
	}
	mb = &st.Mailbox
	s := &selected{
		id:          mb.ID,
		name:        mb.Name,
		readOnly:    cmd.name == "EXAMINE",
		uidValidity: mb.UIDValidity,
		since:       mb.HighestModSeq,
		uids:        make([]uint32, 0, st.UIDs.Count()),
	}
	for _, r := range st.UIDs {
		for u := r.Lo; r.Lo <= r.Hi; u++ {
			s.uids = append(s.uids, u)
			if u == r.Hi {
				break
			}
		}
	}
	firstUnseen := s.seqOf(st.FirstUnseen)
	s.keywords = make(map[string]string, len(st.Keywords))
	for _, k := range st.Keywords {
		s.keywords[strings.ToLower(k)] = k
	}
	c.takeRecent(s, 1, mb.UIDNext)
	flags := append(systemFlags(), st.Keywords...)

	w := c.out()
	w.Untagged()
	w.Number(s.count())
	w.Atom("EXISTS")
	w.CRLF()
	if !c.rev2 {
		// RFC 3501 6.3.1: RECENT and UNSEEN.
		w.Untagged()
		w.Number(s.recentCount())
		w.Atom("RECENT")
		w.CRLF()
		if firstUnseen > 0 {
			w.Untagged()
			w.Atom("OK")
			w.BeginCode("UNSEEN")
			w.Number(firstUnseen)
			w.EndCode()
			w.Text("First unseen")
			w.CRLF()
		}
	}
	w.Untagged()
	w.Atom("FLAGS")
	w.Flags(flags)
	w.CRLF()
	w.Untagged()
	w.Atom("OK")
	w.BeginCode("PERMANENTFLAGS")
	if s.readOnly {
		w.Flags(nil)
	} else {
		w.Flags(append(flags, `\*`))
	}
	w.EndCode()
	w.Text("Flags permitted")
	w.CRLF()
	w.Untagged()
	w.Atom("OK")
	w.BeginCode("UIDVALIDITY")
	w.Number(mb.UIDValidity)
	w.EndCode()
	w.Text("UIDs valid")
	w.CRLF()
	w.Untagged()
	w.Atom("OK")
	w.BeginCode("UIDNEXT")
	w.Number(mb.UIDNext)
	w.EndCode()
	w.Text("Predicted next UID")
	w.CRLF()
	// RFC 7162 3.1.2.1: HIGHESTMODSEQ in every SELECT and EXAMINE.
	w.Untagged()
	w.Atom("OK")
	w.BeginCode("HIGHESTMODSEQ")
	w.Number64(mb.HighestModSeq)
	w.EndCode()
	w.Text("Highest")
	w.CRLF()
	if c.rev2 {
		// RFC 9051 6.3.2: the mailbox's LIST response.
		w.Untagged()
		w.Atom("LIST")
		w.Flags(nil)
		w.String(store.Separator)
		w.Mailbox(mb.Name)
		w.CRLF()
	}
	c.sel = s
	c.state = stateSelected
	if qr != nil && qr.uidValidity == mb.UIDValidity {
		if err := c.qresyncSelect(qr); err != nil {
			return err
		}
	}
	if s.readOnly {
		cmd.code = "READ-ONLY"
	} else {
		cmd.code = "READ-WRITE"
	}
	return w.Err()
}

// parseQresync reads one item of the QRESYNC list: uidvalidity SP modseq
// [SP known-uids] [SP seq-match-data] (RFC 7162 3.2.5, 7). item is called
// once per list element, so it keeps a position in qr.
func parseQresync(p *imapwire.Parser, qr *qresyncParams) error {
	v, err := p.NZNumber()
	if err != nil {
		return err
	}
	qr.uidValidity = v
	if err := p.SP(); err != nil {
		return err
	}
	if qr.modSeq, err = p.Number64(); err != nil {
		return err
	}
	if !p.Accept(' ') {
		return nil
	}
	if p.Peek() != '(' {
		ns, err := p.SeqSet()
		if err != nil {
			return err
		}
		if ns.Saved {
			return p.Fail("$ not allowed here")
		}
		qr.known = ns.Set
		if !p.Accept(' ') {
			return nil
		}
	}
	// seq-match-data: accepted and not needed, since the server answers
	// VANISHED (EARLIER) from its tombstones exactly.
	return p.List(func() error {
		_, err := p.SeqSet()
		return err
	})
}

// qresyncSelect sends what changed since the client's MODSEQ: VANISHED
// (EARLIER) for expunged UIDs and FETCH for changed messages (RFC 7162
// 3.2.5.2).
func (c *conn) qresyncSelect(qr *qresyncParams) error {
	s := c.sel
	ch, err := c.srv.opts.Store.Changes(c.ctx, c.acct.ID, s.id, qr.modSeq)
	if err != nil {
		return storeErr(err)
	}
	w := c.out()
	var vanished imapwire.SeqSet
	for _, u := range ch.Vanished {
		if qr.known == nil || qr.known.Contains(u, s.maxUID()) {
			vanished.AddNum(u)
		}
	}
	if len(vanished) > 0 {
		w.Untagged()
		w.Atom("VANISHED")
		w.BeginList()
		w.Atom("EARLIER")
		w.EndList()
		w.SeqSet(vanished)
		w.CRLF()
	}
	for _, m := range ch.Changed {
		seq := s.seqOf(m.UID)
		if seq == 0 {
			continue
		}
		s.noteReported(m.UID, m.ModSeq)
		c.writeFlags(seq, m.UID, m.Flags, m.ModSeq, true)
	}
	return w.Err()
}
