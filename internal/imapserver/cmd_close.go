package imapserver

// cmdClose is CLOSE (RFC 9051 6.4.1): expunge \Deleted messages silently
// (unless read-only) and leave the selected state.
func (c *conn) cmdClose(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	s := c.sel
	c.unselect()
	if !s.readOnly {
		if _, err := c.srv.opts.Store.Expunge(c.ctx, c.acct.ID, s.id, nil); err != nil {
			return storeErr(err)
		}
	}
	return nil
}
