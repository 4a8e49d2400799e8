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
	// SCRAM last: RFC 4954 gives the order no meaning, clients pick the
	// strongest they know.
	return []string{sasl.Plain, sasl.Login, sasl.SCRAMSHA256}
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
	case sasl.SCRAMSHA256:
		return ss.newSCRAM(), nil
	}
	return nil, ss.refuse("auth", smtp.UnknownMechanism())
}

// authenticate checks credentials through the shared failed-login limiter:
// a blocked client is refused without a password check (454 4.7.0), a client
// with recent failures waits before its answer, and each failure is counted.
// Neither the password nor the attempted user name is logged: users type
// passwords into the user name field.
func (ss *session) authenticate(identity, username, password string) error {
	if err := ss.admit(username); err != nil {
		return err
	}
	if !ss.s.begin() {
		return reply(smtp.ShuttingDown())
	}
	defer ss.s.end()
	// RFC 4616 2: we do not let one user act as another, so an authorization
	// identity other than the user's own fails like a wrong password.
	var acc *store.Account
	var err error
	if identity == "" || strings.EqualFold(identity, username) {
		acc, err = ss.s.opts.Store.Authenticate(ss.ctx(), username, password)
	} else {
		err = store.ErrAuthFailed
	}
	switch {
	case errors.Is(err, store.ErrAuthFailed):
		return ss.authFailed(username)
	case err != nil:
		ss.log.Error("auth error", "err", err)
		return reply(smtp.AuthTemporaryFailure())
	}
	ss.loggedIn(username, acc)
	return nil
}

// admit asks the failed-login limiter whether this client may try username:
// a blocked client is refused without a password check (454 4.7.0), a client
// with recent failures waits before its answer.
func (ss *session) admit(username string) error {
	delay, err := ss.s.authLim.Check(ss.c.ip, username)
	if errors.Is(err, authlimit.ErrBlocked) {
		ss.log.Warn("auth blocked", "reason", "too many failures")
		return reply(smtp.AuthTemporaryFailure().WithText("Too many failed logins, try again later"))
	}
	ss.s.sleep(ss.ctx(), delay)
	return nil
}

// authFailed counts a failure with the limiter and returns the 535 answer.
func (ss *session) authFailed(username string) error {
	blocked := ss.s.authLim.Failure(ss.c.ip, username)
	ss.log.Info("auth failed", "blocked", blocked)
	return reply(smtp.AuthFailed())
}

// loggedIn records a successful login of acc.
func (ss *session) loggedIn(username string, acc *store.Account) {
	ss.s.authLim.Success(ss.c.ip, username)
	ss.mu.Lock()
	ss.account = acc
	ss.mu.Unlock()
	ss.log.Info("authenticated", "account", acc.Address)
}
