package imapserver

import (
	"gannet/internal/sasl"
	"gannet/internal/store"
)

// newSCRAM returns the SCRAM-SHA-256 mechanism (RFC 7677) for this
// connection, checked through the same failed-login limiter as LOGIN and
// PLAIN. When the exchange succeeds, *acct is the account; the caller then
// logs the session in.
func (c *conn) newSCRAM(acct **store.Account) sasl.Server {
	return sasl.NewSCRAMLogin(c.ctx, sasl.SCRAMLogin{
		Secret: c.srv.scramSecret, Store: c.srv.opts.Store, Log: c.log,
		Admit: c.admit, StoreErr: storeErr, Failed: c.loginFailed,
		Succeeded: func(_ string, a *store.Account) error { *acct = a; return nil },
	})
}
