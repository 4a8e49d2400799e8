package imapserver

// cmdSubscribe is SUBSCRIBE (RFC 9051 6.3.7).
func (c *conn) cmdSubscribe(cmd *command) error { return c.subscribe(cmd, true) }

// subscribe reads a mailbox name and sets its subscription.
func (c *conn) subscribe(cmd *command, on bool) error {
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
	if err := c.srv.opts.Store.SubscribeMailbox(c.ctx, c.acct.ID, name, on); err != nil {
		return storeErr(err)
	}
	return nil
}
