package pop3server

// cmdNOOP does nothing (RFC 1939 5 NOOP).
func (c *conn) cmdNOOP(arg string) error {
	if err := noArgs(arg); err != nil {
		return err
	}
	c.reply("+OK")
	return nil
}
