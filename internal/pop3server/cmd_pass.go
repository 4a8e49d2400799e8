package pop3server

// cmdPASS completes USER (RFC 1939 7 PASS). The argument is the rest of the
// line, spaces included: "a POP3 server may treat spaces in the argument as
// part of the password". After a failure the client starts again with USER.
func (c *conn) cmdPASS(arg string) error {
	if !c.secure() {
		return errPlaintext()
	}
	if c.user == "" {
		return &failure{text: "send USER first", bad: true}
	}
	user := c.user
	c.user = ""
	return c.login("USER", "", user, arg)
}
