package imapserver

// cmdLogout is LOGOUT (RFC 9051 6.1.3): "* BYE", then the tagged OK, then the
// connection closes (run sees state 0).
func (c *conn) cmdLogout(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	c.out().Status("", "BYE", "", "Logging out")
	c.unselect()
	c.state = 0
	return nil
}
