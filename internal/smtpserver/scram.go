package smtpserver

import (
	"errors"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"gannet/internal/password"
	"gannet/internal/sasl"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// newSCRAM returns SCRAM-SHA-256 (RFC 7677; RFC 4954 4 for the exchange,
// the server's signature going out as a last 334 challenge) checked through
// the same failed-login limiter as PLAIN and LOGIN.
func (ss *session) newSCRAM() gosasl.Server {
	var found *store.Account
	lookup := func(username string) (password.SCRAMKeys, bool, error) {
		if err := ss.admit(username); err != nil {
			return password.SCRAMKeys{}, false, err
		}
		if !ss.s.begin() {
			return password.SCRAMKeys{}, false, reply(smtp.ShuttingDown())
		}
		defer ss.s.end()
		keys, acc, err := sasl.SCRAMAccount(ss.ctx(), ss.s.opts.Store, username, ss.log)
		if err != nil {
			ss.log.Error("auth error", "err", err)
			return password.SCRAMKeys{}, false, reply(smtp.AuthTemporaryFailure())
		}
		if acc == nil {
			return password.SCRAMKeys{}, false, nil
		}
		found = acc
		return keys, true, nil
	}
	result := func(username string, ok bool) error {
		if !ok {
			return ss.authFailed(username)
		}
		ss.loggedIn(username, found)
		return nil
	}
	return scramReplies{sasl.NewSCRAMSHA256(ss.s.scramSecret, lookup, result)}
}

// scramReplies turns the mechanism's own errors (malformed message, channel
// binding required) into 535 5.7.8, so that go-smtp does not send their text
// as a 454 (temporary) reply; replies from the callbacks pass unchanged.
type scramReplies struct{ sasl.Server }

func (s scramReplies) Next(response []byte) ([]byte, bool, error) {
	ch, done, err := s.Server.Next(response)
	var se *gosmtp.SMTPError
	if err != nil && !errors.As(err, &se) {
		err = reply(smtp.AuthFailed())
	}
	return ch, done, err
}
