package imapserver

import (
	"strings"

	"gannet/internal/login"
	"gannet/internal/store"
)

// errAuthFailed is the answer to wrong credentials (RFC 5530).
func errAuthFailed() error { return errNo("AUTHENTICATIONFAILED", "Invalid credentials") }

// authenticate checks a password through the login service (failed-login
// limiter, bounded hashing) and, on success, moves the session to the
// authenticated state. The password is never logged, nor the user name of a
// failed login.
func (c *conn) authenticate(cmd *command, user, password string) error {
	res := c.srv.opts.Login.Password(c.ctx, c.ip, "", user, password)
	if err := c.loginAnswer(res); err != nil {
		return err
	}
	c.loggedIn(cmd, res.Account)
	return nil
}

// loginAnswer is IMAP's answer to a login outcome (RFC 5530 response codes),
// nil for OK. Failures log the login's Result, which names no user.
func (c *conn) loginAnswer(res login.Result) error {
	switch res.Outcome {
	case login.OK:
		return nil
	case login.Wrong:
		c.log.Info("login failed", "login", res)
		return errAuthFailed()
	case login.Blocked:
		c.log.Info("login refused: too many failed logins", "login", res)
		return errNo("UNAVAILABLE", "Too many failed logins; try again later")
	}
	if c.ctx.Err() != nil {
		return errShutdown
	}
	c.log.Warn("login could not be checked", "login", res)
	return errNo("UNAVAILABLE", "Cannot check credentials now; try again later")
}

// loggedIn moves the session to the authenticated state as acct and sets the
// command's CAPABILITY response code.
func (c *conn) loggedIn(cmd *command, acct *store.Account) {
	c.acct = acct
	c.state = stateAuth
	c.log = c.log.With("user", acct.Address)
	// One line per login, as on every protocol (README.md, "Logs").
	c.log.Info("logged in", "login", login.Result{Outcome: login.OK, Account: acct})
	c.srv.register(c)
	// RFC 9051 6.2.3: the capabilities change at login; say so.
	var b strings.Builder
	b.WriteString("CAPABILITY")
	for _, a := range c.srv.caps.base {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	b.WriteString(" UNAUTHENTICATE")
	cmd.code = b.String()
}
