package imapserver

import (
	"slices"
	"strings"

	"gannet/internal/imapwire"
	"gannet/internal/store"
)

// cmdStore is STORE and UID STORE (RFC 9051 6.4.6) with UNCHANGEDSINCE and
// the MODIFIED response code (RFC 7162 3.1.3).
func (c *conn) cmdStore(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	ns, err := p.SeqSet()
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	var unchangedSince uint64
	conditional := false
	if p.Peek() == '(' {
		err := p.List(func() error {
			if !p.AcceptWord("UNCHANGEDSINCE") {
				return p.Fail("unknown STORE modifier")
			}
			if err := p.SP(); err != nil {
				return err
			}
			var err error
			unchangedSince, err = p.Number64()
			conditional = true
			return err
		})
		if err != nil {
			return err
		}
		if err := p.SP(); err != nil {
			return err
		}
	}
	kw, err := p.Keyword()
	if err != nil {
		return err
	}
	var op store.FlagOp
	switch kw {
	case "FLAGS", "FLAGS.SILENT":
		op = store.FlagsSet
	case "+FLAGS", "+FLAGS.SILENT":
		op = store.FlagsAdd
	case "-FLAGS", "-FLAGS.SILENT":
		op = store.FlagsRemove
	default:
		return p.Fail("expected FLAGS, +FLAGS or -FLAGS")
	}
	silent := strings.HasSuffix(kw, ".SILENT")
	if err := p.SP(); err != nil {
		return err
	}
	flags, err := parseFlags(p, true)
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	if conditional {
		c.enableCondstore()
	}
	s := c.sel
	if s.readOnly {
		return errNo("", "Mailbox is read-only")
	}
	set, err := c.numSet(ns, cmd.uid)
	if err != nil {
		return err
	}
	if len(set) == 0 {
		return nil
	}
	st := c.srv.opts.Store
	if conditional && unchangedSince == 0 {
		// RFC 7162 3.1.3: UNCHANGEDSINCE 0 always fails; the store treats 0
		// as "no condition", so answer from the message list.
		var mod []uint32
		err := store.ListEach(c.ctx, st, c.acct.ID, s.id, set, store.ListOptions{FlagsOnly: true}, func(page []store.Message) error {
			for _, m := range s.known(page) {
				mod = append(mod, m.UID)
			}
			return nil
		})
		if err != nil {
			return storeErr(err)
		}
		c.modifiedCode(cmd, mod)
		return nil
	}
	res, err := st.StoreFlags(c.ctx, c.acct.ID, s.id, set, op, flags, unchangedSince)
	if err != nil {
		return storeErr(err)
	}
	for _, u := range res.Updated {
		s.noteReported(u.UID, u.ModSeq)
	}
	c.modifiedCode(cmd, res.Modified)
	if silent {
		if c.condstore {
			// RFC 7162 3.1.3: with .SILENT the new MODSEQ is still sent.
			for _, u := range res.Updated {
				if seq := s.seqOf(u.UID); seq != 0 {
					c.writeFlags(seq, u.UID, nil, u.ModSeq, false)
				}
			}
		}
		return nil
	}
	// The new flags of every message in the set (RFC 9051 6.4.6), except
	// those that failed UNCHANGEDSINCE.
	// Streamed a page at a time (docs/ARCHITECTURE.md, "Huge mailboxes").
	err = store.ListEach(c.ctx, st, c.acct.ID, s.id, set, store.ListOptions{FlagsOnly: true}, func(page []store.Message) error {
		for _, m := range s.known(page) {
			if _, failed := slices.BinarySearch(res.Modified, m.UID); failed {
				continue
			}
			s.noteReported(m.UID, m.ModSeq)
			c.writeFlags(s.seqOf(m.UID), m.UID, m.Flags, m.ModSeq, true)
		}
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	return c.out().Err()
}

// modifiedCode sets [MODIFIED set] on the tagged OK, in UIDs for UID STORE
// and sequence numbers for STORE (RFC 7162 3.1.3).
func (c *conn) modifiedCode(cmd *command, uids []uint32) {
	if len(uids) == 0 {
		return
	}
	var set imapwire.SeqSet
	for _, u := range sortUIDs(slices.Clone(uids)) {
		if cmd.uid {
			set.AddNum(u)
		} else if seq := c.sel.seqOf(u); seq != 0 {
			set.AddNum(seq)
		}
	}
	if len(set) == 0 {
		return
	}
	cmd.code = "MODIFIED " + set.String()
	cmd.text = "Conditional STORE failed"
}
