package pop3server

import (
	"errors"
	"strings"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
)

// errPlaintext refuses credentials on a connection without TLS (RFC 2595 2.3).
func errPlaintext() error {
	return &failure{code: "AUTH", text: "plaintext authentication disallowed without TLS; use STLS"}
}

// login checks credentials through the shared limiter and, when they are
// good, enters the TRANSACTION state (RFC 1939 4). It is the one path for
// USER/PASS and AUTH; method names it in the log. The password is never
// logged.
func (c *conn) login(method, identity, username, password string) error {
	if err := c.admit(username); err != nil {
		return err
	}
	lim := c.srv.opts.Limiter
	// No proxy authorization: an authorization identity must be the user itself.
	if identity != "" && !strings.EqualFold(identity, username) {
		lim.Failure(c.ip, username)
		c.log.Info("login failed: authorization identity differs", "user", username)
		return &failure{code: "AUTH", text: "authentication failed"}
	}
	acct, err := c.srv.opts.Store.Authenticate(c.ctx, username, password)
	if errors.Is(err, store.ErrAuthFailed) {
		return c.loginFailed(username)
	}
	if err != nil {
		return errTemp(err)
	}
	lim.Success(c.ip, username)
	return c.enterTransaction(acct, method)
}

// loginFailed counts a failed login in the shared limiter and answers it.
func (c *conn) loginFailed(username string) error {
	if c.srv.opts.Limiter.Failure(c.ip, username) {
		c.log.Warn("client blocked after failed logins", "user", username)
	}
	c.log.Info("login failed", "user", username)
	// RFC 3206 AUTH: the credentials were wrong.
	return &failure{code: "AUTH", text: "authentication failed"}
}

// admit asks the shared limiter whether this client may try to log in, and
// waits the delay it imposes.
func (c *conn) admit(username string) error {
	lim := c.srv.opts.Limiter
	delay, err := lim.Check(c.ip, username)
	if errors.Is(err, authlimit.ErrBlocked) {
		c.log.Info("login refused: too many failed logins", "user", username)
		// RFC 3206 SYS/TEMP: a temporary condition, not a judgement on the credentials.
		return &failure{code: "SYS/TEMP", text: "too many failed logins, try again later"}
	}
	if delay > 0 {
		// authlimit: the caller waits before answering, outside any lock.
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return c.ctx.Err()
		}
	}
	return nil
}

// enterTransaction locks the maildrop and takes the snapshot.
func (c *conn) enterTransaction(acct *store.Account, method string) error {
	inUse, tooSoon := c.srv.lockMaildrop(c, acct.ID)
	if inUse {
		c.log.Info("login refused: maildrop in use", "account", acct.Address)
		// RFC 2449 8.1.2.
		return &failure{code: "IN-USE", text: "maildrop already in use by another session"}
	}
	if tooSoon {
		// RFC 2449 8.1.1.
		return &failure{code: "LOGIN-DELAY", text: "logged in too recently, try again later"}
	}
	drop, err := c.openMaildrop(acct)
	if err != nil {
		c.srv.unlockMaildrop(c)
		return errTemp(err)
	}
	c.drop = drop
	c.state = stateTransaction
	c.user = ""
	c.log = c.log.With("account", acct.Address)
	c.log.Info("logged in", "method", method, "messages", len(drop.msgs), "tls", c.tls)
	c.reply("+OK maildrop locked and ready, %d messages", len(drop.msgs))
	return nil
}
