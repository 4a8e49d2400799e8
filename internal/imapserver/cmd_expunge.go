package imapserver

import (
	"gannet/internal/store"
)

// cmdExpunge is EXPUNGE (RFC 9051 6.4.3) and, from cmdUID, UID EXPUNGE (RFC
// 4315 2.1, RFC 9051 6.4.9): remove \Deleted messages and announce them.
func (c *conn) cmdExpunge(cmd *command) error {
	p := cmd.p
	var set store.UIDSet
	if cmd.uid {
		if err := p.SP(); err != nil {
			return err
		}
		ns, err := p.SeqSet()
		if err != nil {
			return err
		}
		if set, err = c.numSet(ns, true); err != nil {
			return err
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	s := c.sel
	if s.readOnly {
		return errNo("", "Mailbox is read-only")
	}
	if set != nil && len(set) == 0 {
		return nil
	}
	uids, err := c.srv.opts.Store.Expunge(c.ctx, c.acct.ID, s.id, set)
	if err != nil {
		return storeErr(err)
	}
	s.markGone(uids)
	c.announceGone()
	if c.condstore {
		// RFC 7162 3.1.10 (via 3.2.?): HIGHESTMODSEQ after an expunge.
		if mb, err := c.srv.opts.Store.MailboxByID(c.ctx, c.acct.ID, s.id); err == nil {
			cmd.code = "HIGHESTMODSEQ " + utoa64(mb.HighestModSeq)
		}
	}
	return nil
}
