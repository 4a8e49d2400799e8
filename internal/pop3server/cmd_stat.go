package pop3server

// cmdSTAT answers the drop listing (RFC 1939 5 STAT): the number of messages
// and their total size, without those marked as deleted.
func (c *conn) cmdSTAT(arg string) error {
	if err := noArgs(arg); err != nil {
		return err
	}
	n, octets, err := c.totals()
	if err != nil {
		return errTemp(err)
	}
	c.reply("+OK %d %d", n, octets)
	return nil
}
