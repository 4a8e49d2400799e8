package imapserver

// cmdMove is MOVE and UID MOVE (RFC 6851): the COPYUID goes in an untagged
// OK, then the moved messages are expunged (EXPUNGE or VANISHED), then the
// tagged OK (RFC 6851 3.3, 4.3). The target may be the selected mailbox:
// the messages then get new UIDs there.
func (c *conn) cmdMove(cmd *command) error {
	set, dst, err := c.parseCopy(cmd)
	if err != nil {
		return err
	}
	s := c.sel
	if s.readOnly {
		return errNo("", "Mailbox is read-only")
	}
	if len(set) == 0 {
		return nil
	}
	res, err := c.srv.opts.Store.Move(c.ctx, c.acct.ID, s.id, set, dst.ID)
	if err != nil {
		return storeErr(err)
	}
	if code := copyUIDCode(res); code != "" {
		c.out().Status("", "OK", code, "Moved")
	}
	s.markGone(res.SrcUIDs)
	c.announceGone()
	if dst.ID == s.id {
		// Into the selected mailbox itself (RFC 6851 3.3): the moved
		// messages are new there, announced with EXISTS before the
		// tagged OK, as after a COPY into it.
		c.kicked.Store(true)
	}
	return nil
}
