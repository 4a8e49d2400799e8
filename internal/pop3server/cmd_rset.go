package pop3server

// cmdRSET unmarks every message marked as deleted (RFC 1939 5 RSET).
func (c *conn) cmdRSET(arg string) error {
	if err := noArgs(arg); err != nil {
		return err
	}
	for i := range c.drop.msgs {
		c.drop.msgs[i].deleted = false
	}
	c.reply("+OK maildrop has %d messages", len(c.drop.msgs))
	return nil
}
