package pop3server

// cmdUSER names the maildrop (RFC 1939 7 USER). The answer is the same whether
// or not the account exists, so that USER cannot probe for accounts.
func (c *conn) cmdUSER(arg string) error {
	if !c.secure() {
		return errPlaintext()
	}
	if arg == "" {
		return errSyntax("USER needs a name")
	}
	c.user = arg
	c.reply("+OK send PASS")
	return nil
}
