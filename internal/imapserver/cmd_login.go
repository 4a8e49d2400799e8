package imapserver

// cmdLogin is LOGIN (RFC 9051 6.2.3). Without TLS it is refused unless the
// server runs in dev mode and the client is on loopback (LOGINDISABLED).
func (c *conn) cmdLogin(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	user, err := p.AString()
	if err != nil {
		return err
	}
	if err := p.SP(); err != nil {
		return err
	}
	password, err := p.AString()
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	if !c.secure() {
		return errNo("PRIVACYREQUIRED", "Use STARTTLS first")
	}
	return c.authenticate(cmd, user, password)
}
