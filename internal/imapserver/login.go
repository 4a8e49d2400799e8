package imapserver

import (
	"errors"
	"strings"
	"time"

	"gannet/internal/store"
)

// errAuthFailed is the answer to wrong credentials (RFC 5530).
func errAuthFailed() error { return errNo("AUTHENTICATIONFAILED", "Invalid credentials") }

// authenticate checks credentials through the shared failed-login limiter
// and, on success, moves the session to the authenticated state. The
// password is never logged.
func (c *conn) authenticate(cmd *command, user, password string) error {
	if err := c.admit(user); err != nil {
		return err
	}
	acct, err := c.srv.opts.Store.Authenticate(c.ctx, user, password)
	if errors.Is(err, store.ErrAuthFailed) || errors.Is(err, store.ErrNotFound) {
		return c.loginFailed(user)
	}
	if err != nil {
		return storeErr(err)
	}
	c.loggedIn(cmd, user, acct)
	return nil
}

// admit asks the failed-login limiter whether this client may try user now:
// a blocked client is refused before any password check, one with recent
// failures waits the limiter's delay first.
func (c *conn) admit(user string) error {
	delay, err := c.srv.opts.Limiter.Check(c.ip, user)
	if err != nil {
		return errNo("UNAVAILABLE", "Too many failed logins; try again later")
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return errShutdown
		}
	}
	return nil
}

// loginFailed counts a failed login with the limiter and returns the answer.
func (c *conn) loginFailed(user string) error {
	blocked := c.srv.opts.Limiter.Failure(c.ip, user)
	c.log.Info("login failed", "user", user, "blocked", blocked)
	return errAuthFailed()
}

// loggedIn moves the session to the authenticated state as acct and sets the
// command's CAPABILITY response code.
func (c *conn) loggedIn(cmd *command, user string, acct *store.Account) {
	c.srv.opts.Limiter.Success(c.ip, user)
	c.acct = acct
	c.state = stateAuth
	c.log = c.log.With("user", acct.Address)
	c.log.Debug("logged in")
	c.srv.register(c)
	// RFC 9051 6.2.3: the capabilities change at login; say so.
	var b strings.Builder
	b.WriteString("CAPABILITY")
	for _, a := range c.srv.caps.base {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	cmd.code = b.String()
}
