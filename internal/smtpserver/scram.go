package smtpserver

import (
	"gannet/internal/password"
	"gannet/internal/sasl"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// newSCRAM returns SCRAM-SHA-256 (RFC 7677; RFC 4954 4 for the exchange,
// the server's signature going out as a last 334 challenge) checked through
// the same failed-login limiter as PLAIN and LOGIN.
func (c *conn) newSCRAM() sasl.Server {
	var found *store.Account
	lookup := func(username string) (password.SCRAMKeys, bool, error) {
		if err := c.admit(username); err != nil {
			return password.SCRAMKeys{}, false, err
		}
		if !c.s.begin() {
			return password.SCRAMKeys{}, false, smtp.ShuttingDown()
		}
		defer c.s.end()
		keys, acc, err := sasl.SCRAMAccount(c.ctx, c.s.opts.Store, username, c.log)
		if err != nil {
			c.log.Error("auth error", "err", err)
			return password.SCRAMKeys{}, false, smtp.AuthTemporaryFailure()
		}
		if acc == nil {
			return password.SCRAMKeys{}, false, nil
		}
		found = acc
		return keys, true, nil
	}
	result := func(username string, ok bool) error {
		if !ok {
			return c.authFailed(username)
		}
		c.loggedIn(username, found)
		return nil
	}
	return sasl.NewSCRAMSHA256(c.s.scramSecret, lookup, result)
}
