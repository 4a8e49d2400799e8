package pop3server

import "gannet/internal/login"

// newSCRAM returns the SCRAM-SHA-256 mechanism (RFC 7677, over POP3 AUTH as
// RFC 5034 describes) for this connection, through the login service like
// USER/PASS: refusals come back from Next as POP3 answers (loginAnswer).
// When the client has also verified the server's signature, its Account is
// the account; the caller closes the exchange in any case.
func (c *conn) newSCRAM() *login.SCRAM {
	return c.srv.opts.Login.SCRAM(c.ctx, c.ip, c.loginAnswer)
}
