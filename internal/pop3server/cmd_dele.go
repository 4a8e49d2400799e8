package pop3server

// cmdDELE marks a message as deleted (RFC 1939 5 DELE). Nothing changes in
// the store until QUIT; RSET unmarks.
func (c *conn) cmdDELE(arg string) error {
	m, n, err := c.msgArg(arg)
	if err != nil {
		return err
	}
	m.deleted = true
	c.reply("+OK message %d deleted", n)
	return nil
}
