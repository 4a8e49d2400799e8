package pop3server

// cmdLIST answers scan listings (RFC 1939 5 LIST): "number size", for one
// message or, as a multi-line response, for every message not marked as
// deleted. The size is exactly the octets RETR delivers (see wireSize).
func (c *conn) cmdLIST(arg string) error {
	if arg != "" {
		m, n, err := c.msgArg(arg)
		if err != nil {
			return err
		}
		size, err := c.size(m)
		if err != nil {
			return errTemp(err)
		}
		c.reply("+OK %d %d", n, size)
		return nil
	}
	count, octets, err := c.totals()
	if err != nil {
		return errTemp(err)
	}
	c.reply("+OK %d messages (%d octets)", count, octets)
	for i := range c.drop.msgs {
		if m := &c.drop.msgs[i]; !m.deleted {
			c.reply("%d %d", i+1, m.wire)
		}
	}
	c.reply(".")
	return nil
}
