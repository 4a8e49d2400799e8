package smtpserver

import "gannet/internal/login"

// newSCRAM returns SCRAM-SHA-256 (RFC 7677; RFC 4954 4 for the exchange,
// the server's signature going out as a last 334 challenge) through the login
// service like PLAIN and LOGIN: refusals come back from Next as SMTP replies
// (loginAnswer). When the exchange has succeeded, its Account is the
// account; the caller closes the exchange in any case.
func (c *conn) newSCRAM() *login.SCRAM {
	return c.s.opts.Login.SCRAM(c.ctx, c.ip, c.loginAnswer)
}
