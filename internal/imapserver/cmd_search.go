package imapserver

import (
	"errors"
	"strings"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// searchReturn are the ESEARCH return options (RFC 4731 3.1, RFC 5182 2).
type searchReturn struct {
	min, max, count, all, save bool
}

// cmdSearch is SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH return
// options (RFC 4731), SEARCHRES (RFC 5182), CHARSET UTF-8 and MODSEQ (RFC
// 7162 3.1.5).
func (c *conn) cmdSearch(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	var ret searchReturn
	esearch := c.rev2 // RFC 9051 6.4.4: IMAP4rev2 answers with ESEARCH
	if p.AcceptWord("RETURN") {
		esearch = true
		if err := p.SP(); err != nil {
			return err
		}
		err := p.List(func() error {
			kw, err := p.Keyword()
			if err != nil {
				return err
			}
			switch kw {
			case "MIN":
				ret.min = true
			case "MAX":
				ret.max = true
			case "COUNT":
				ret.count = true
			case "ALL":
				ret.all = true
			case "SAVE":
				ret.save = true
			default:
				return p.Fail("unknown search return option")
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := p.SP(); err != nil {
			return err
		}
	}
	if !ret.min && !ret.max && !ret.count && !ret.all && !ret.save {
		ret.all = true // RFC 4731 3.1: RETURN () means ALL
	}
	if p.AcceptWord("CHARSET") {
		if err := p.SP(); err != nil {
			return err
		}
		cs, err := p.AString()
		if err != nil {
			return err
		}
		if err := p.SP(); err != nil {
			return err
		}
		switch strings.ToUpper(cs) {
		case "UTF-8", "US-ASCII":
		default:
			// RFC 9051 6.4.4: the tagged NO says which charsets work; the
			// rest of the command is skipped by the loop.
			return errNo("BADCHARSET (UTF-8 US-ASCII)", "Unsupported charset")
		}
	}
	sp := &searchParser{c: c, p: p}
	crit, err := sp.keys(0)
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	s := c.sel
	st := c.srv.opts.Store
	// The evaluation may be long (BODY, TEXT over big messages): it stops
	// when the client disconnects (issue 13, finding 8).
	ctx, stop := c.watchClient()
	found, err := st.Search(ctx, c.acct.ID, s.id, crit)
	stop()
	if err := clientGone(ctx, err); err != nil {
		if errors.Is(err, errClientGone) {
			return err
		}
		return storeErr(err)
	}
	// Only messages the client knows (RFC 9051 7.5.1).
	uids := found[:0]
	for _, u := range found {
		if s.seqOf(u) != 0 {
			uids = append(uids, u)
		}
	}
	var highest uint64
	if sp.modseq && len(uids) > 0 {
		// RFC 7162 3.1.5: the highest MODSEQ of the matches.
		// Streamed a page at a time (docs/ARCHITECTURE.md, "Huge mailboxes").
		err := store.ListEach(c.ctx, st, c.acct.ID, s.id, store.UIDRuns(uids), store.ListOptions{FlagsOnly: true}, func(page []store.Message) error {
			for _, m := range page {
				highest = max(highest, m.ModSeq)
			}
			return nil
		})
		if err != nil {
			return storeErr(err)
		}
	}
	num := func(u uint32) uint32 {
		if cmd.uid {
			return u
		}
		return s.seqOf(u)
	}
	if ret.save {
		// RFC 5182 2.4: with only MIN and/or MAX, only those are saved.
		switch {
		case len(uids) == 0:
			c.saved = nil
		case (ret.min || ret.max) && !ret.all && !ret.count:
			c.saved = nil
			if ret.min {
				c.saved = append(c.saved, uids[0])
			}
			if ret.max && (!ret.min || len(uids) > 1) {
				c.saved = append(c.saved, uids[len(uids)-1])
			}
		default:
			c.saved = append([]uint32(nil), uids...)
		}
	}
	w := c.out()
	if !esearch {
		w.Untagged()
		w.Atom("SEARCH")
		for _, u := range uids {
			w.Number(num(u))
		}
		if sp.modseq && len(uids) > 0 {
			w.BeginList()
			w.Atom("MODSEQ")
			w.Number64(highest)
			w.EndList()
		}
		return w.CRLF()
	}
	if ret.save && !ret.min && !ret.max && !ret.count && !ret.all {
		return nil // RFC 5182 2.1: SAVE alone sends no ESEARCH
	}
	w.Untagged()
	w.Atom("ESEARCH")
	w.BeginList()
	w.Atom("TAG")
	w.String(cmd.tag)
	w.EndList()
	if cmd.uid {
		w.Atom("UID")
	}
	if len(uids) > 0 {
		if ret.min {
			w.Atom("MIN")
			w.Number(num(uids[0]))
		}
		if ret.max {
			w.Atom("MAX")
			w.Number(num(uids[len(uids)-1]))
		}
	}
	if ret.count {
		w.Atom("COUNT")
		w.Number(uint32(len(uids)))
	}
	if ret.all && len(uids) > 0 {
		var set imapwire.SeqSet
		for _, u := range uids {
			set.AddNum(num(u))
		}
		w.Atom("ALL")
		w.SeqSet(set)
	}
	if sp.modseq && len(uids) > 0 {
		w.Atom("MODSEQ")
		w.Number64(highest)
	}
	return w.CRLF()
}
