package imapserver

// cmdUnselect is UNSELECT (RFC 3691, RFC 9051 6.4.2): leave the selected
// state without expunging.
func (c *conn) cmdUnselect(cmd *command) error {
	if err := cmd.p.End(); err != nil {
		return err
	}
	c.unselect()
	return nil
}
