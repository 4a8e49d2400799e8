package imapserver

import (
	"gannet/internal/password"
	"gannet/internal/sasl"
	"gannet/internal/store"
)

// newSCRAM returns the SCRAM-SHA-256 mechanism (RFC 7677) for this
// connection, checked through the same failed-login limiter as LOGIN and
// PLAIN. When the exchange succeeds, *acct is the account; the caller then
// logs the session in.
func (c *conn) newSCRAM(acct **store.Account) sasl.Server {
	var found *store.Account
	lookup := func(user string) (password.SCRAMKeys, bool, error) {
		if err := c.admit(user); err != nil {
			return password.SCRAMKeys{}, false, err
		}
		keys, a, err := sasl.SCRAMAccount(c.ctx, c.srv.opts.Store, user, c.log)
		if err != nil {
			return password.SCRAMKeys{}, false, storeErr(err)
		}
		if a == nil {
			return password.SCRAMKeys{}, false, nil
		}
		found = a
		return keys, true, nil
	}
	result := func(user string, ok bool) error {
		if !ok {
			return c.loginFailed(user)
		}
		*acct = found
		return nil
	}
	return sasl.NewSCRAMSHA256(c.srv.scramSecret, lookup, result)
}
