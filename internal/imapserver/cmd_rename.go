package imapserver

// cmdRename is RENAME (RFC 9051 6.3.6); children move along and renaming
// INBOX moves its messages to the new mailbox (the store does both).
func (c *conn) cmdRename(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	from, err := p.Mailbox()
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	to, err := p.Mailbox()
	if err != nil {
		badNameCode(err, "CANNOT")
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	if err := c.srv.opts.Store.RenameMailbox(c.ctx, c.acct.ID, from, to); err != nil {
		return storeErr(err)
	}
	if c.sel != nil && c.sel.name == from && from != "INBOX" {
		c.sel.name = to
	}
	return nil
}
