package pop3server

import (
	"gannet/internal/sasl"
	"gannet/internal/store"
)

// newSCRAM returns the SCRAM-SHA-256 mechanism (RFC 7677, over POP3 AUTH as
// RFC 5034 describes) for this connection, through the same failed-login limiter
// as USER/PASS. When the client has also verified the server's signature, *acct
// is the account.
func (c *conn) newSCRAM(acct **store.Account) sasl.Server {
	return sasl.NewSCRAMLogin(c.ctx, sasl.SCRAMLogin{
		Secret: c.srv.scramSecret, Store: c.srv.opts.Store, Log: c.log,
		Admit: c.admit, StoreErr: errTemp, Failed: c.loginFailed,
		Succeeded: func(_ string, a *store.Account) error { *acct = a; return nil },
	})
}
