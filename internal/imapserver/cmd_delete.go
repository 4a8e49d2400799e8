package imapserver

// cmdDelete is DELETE (RFC 9051 6.3.5). Deleting the selected mailbox is
// allowed; the session then sees it vanish and is told so.
func (c *conn) cmdDelete(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	name, err := p.Mailbox()
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	if c.sel != nil && c.sel.name == name {
		// Leave it first so that this session is not told its selected
		// mailbox vanished under it.
		c.unselect()
	}
	if err := c.srv.opts.Store.DeleteMailbox(c.ctx, c.acct.ID, name); err != nil {
		return storeErr(err)
	}
	return nil
}
