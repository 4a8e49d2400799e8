package smtpserver

import (
	"errors"
	"strings"

	gosasl "github.com/emersion/go-sasl"

	"gannet/internal/authlimit"
	"gannet/internal/sasl"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// authAllowed: AUTH only under TLS (RFC 8314, RFC 4954 4: no plaintext
// passwords in the clear), except from loopback in Dev mode.
func (ss *session) authAllowed() bool {
	return ss.tls != nil || (ss.s.opts.Dev && ss.c.ip.IsLoopback())
}

// AuthMechanisms is what EHLO offers: nothing on the MX, and nothing before
// STARTTLS, so that clients are not tempted to send passwords in the clear.
func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Mode != Submission || !ss.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth starts an AUTH exchange (RFC 4954).
func (ss *session) Auth(mech string) (gosasl.Server, error) {
	switch {
	case ss.c.expired():
		return nil, ss.timeout("auth")
	case ss.s.opts.Mode != Submission:
		return nil, ss.refuse("auth", smtp.AuthUnavailable())
	case !ss.authAllowed():
		return nil, ss.refuse("auth", smtp.EncryptionRequired())
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlain(ss.authenticate), nil
	case sasl.Login:
		return sasl.NewLogin(ss.authenticate), nil
	}
	return nil, ss.refuse("auth", smtp.UnknownMechanism())
}

// authenticate checks credentials through the shared failed-login limiter:
// a blocked client is refused without a password check (454 4.7.0), a client
// with recent failures waits before its answer, and each failure is counted.
// Neither the password nor the attempted user name is logged: users type
// passwords into the user name field.
func (ss *session) authenticate(identity, username, password string) error {
	lim := ss.s.authLim
	delay, err := lim.Check(ss.c.ip, username)
	if errors.Is(err, authlimit.ErrBlocked) {
		ss.log.Warn("auth blocked", "reason", "too many failures")
		return reply(smtp.AuthTemporaryFailure().WithText("Too many failed logins, try again later"))
	}
	ss.s.sleep(ss.ctx(), delay)
	if !ss.s.begin() {
		return reply(smtp.ShuttingDown())
	}
	defer ss.s.end()
	// RFC 4616 2: we do not let one user act as another, so an authorization
	// identity other than the user's own fails like a wrong password.
	var acc *store.Account
	if identity == "" || strings.EqualFold(identity, username) {
		acc, err = ss.s.opts.Store.Authenticate(ss.ctx(), username, password)
	} else {
		err = store.ErrAuthFailed
	}
	switch {
	case errors.Is(err, store.ErrAuthFailed):
		blocked := lim.Failure(ss.c.ip, username)
		ss.log.Info("auth failed", "blocked", blocked)
		return reply(smtp.AuthFailed())
	case err != nil:
		ss.log.Error("auth error", "err", err)
		return reply(smtp.AuthTemporaryFailure())
	}
	lim.Success(ss.c.ip, username)
	ss.mu.Lock()
	ss.account = acc
	ss.mu.Unlock()
	ss.log.Info("authenticated", "account", acc.Address)
	return nil
}
