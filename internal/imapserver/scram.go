package imapserver

import "gannet/internal/login"

// newSCRAM returns the SCRAM-SHA-256 mechanism (RFC 7677) for this
// connection, through the login service like LOGIN and PLAIN: refusals
// come back from Next as IMAP answers (loginAnswer). When the exchange has
// succeeded, its Account is the account; the caller then logs the session
// in, and closes the exchange in any case.
func (c *conn) newSCRAM() *login.SCRAM {
	return c.srv.opts.Login.SCRAM(c.ctx, c.ip, c.loginAnswer)
}
