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
	lim := c.srv.opts.Limiter
	delay, err := lim.Check(c.ip, user)
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
	acct, err := c.srv.opts.Store.Authenticate(c.ctx, user, password)
	if errors.Is(err, store.ErrAuthFailed) || errors.Is(err, store.ErrNotFound) {
		blocked := lim.Failure(c.ip, user)
		c.log.Info("login failed", "user", user, "blocked", blocked)
		return errAuthFailed()
	}
	if err != nil {
		return storeErr(err)
	}
	lim.Success(c.ip, user)
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
	return nil
}
