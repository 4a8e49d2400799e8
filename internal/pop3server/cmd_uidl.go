package pop3server

// cmdUIDL answers unique-id listings (RFC 1939 7 UIDL), for one message or,
// as a multi-line response, for every message not marked as deleted.
func (c *conn) cmdUIDL(arg string) error {
	if arg != "" {
		m, n, err := c.msgArg(arg)
		if err != nil {
			return err
		}
		c.reply("+OK %d %s", n, c.drop.uidl(m))
		return nil
	}
	c.reply("+OK unique-id listing follows")
	for i := range c.drop.msgs {
		if m := &c.drop.msgs[i]; !m.deleted {
			c.reply("%d %s", i+1, c.drop.uidl(m))
		}
	}
	c.reply(".")
	return nil
}
