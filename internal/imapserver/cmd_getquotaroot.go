package imapserver

// cmdGetQuotaRoot is GETQUOTAROOT (RFC 9208 4.3): every mailbox is under
// the account's one quota root "".
func (c *conn) cmdGetQuotaRoot(cmd *command) error {
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
	mb, err := c.srv.opts.Store.Mailbox(c.ctx, c.acct.ID, name)
	if err != nil {
		return storeErr(err)
	}
	w := c.out()
	w.Untagged()
	w.Atom("QUOTAROOT")
	w.Mailbox(mb.Name)
	w.String("")
	w.CRLF()
	return c.writeQuota()
}
