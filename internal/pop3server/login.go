package pop3server

import (
	"gannet/internal/login"
	"gannet/internal/store"
)

// errPlaintext refuses credentials on a connection without TLS (RFC 2595 2.3).
func errPlaintext() error {
	return &failure{code: "AUTH", text: "plaintext authentication disallowed without TLS; use STLS"}
}

// login checks credentials through the login service (failed-login limiter,
// bounded hashing) and, when they are good, enters the TRANSACTION state
// (RFC 1939 4). It is the one path for USER/PASS and AUTH; method names it in
// the log. Neither the password nor a failed login's user name is logged.
func (c *conn) login(method, identity, username, password string) error {
	res := c.srv.opts.Login.Password(c.ctx, c.ip, identity, username, password)
	if err := c.loginAnswer(res); err != nil {
		return err
	}
	return c.enterTransaction(res.Account, method)
}

// loginAnswer is POP3's answer to a login outcome (RFC 3206 response codes),
// nil for OK. Failures log the login's Result, which names no user.
func (c *conn) loginAnswer(res login.Result) error {
	switch res.Outcome {
	case login.OK:
		return nil
	case login.Wrong:
		if res.NowBlocked {
			c.log.Warn("client blocked after failed logins", "login", res)
		} else {
			c.log.Info("login failed", "login", res)
		}
		// RFC 3206 AUTH: the credentials were wrong.
		return &failure{code: "AUTH", text: "authentication failed"}
	case login.Blocked:
		c.log.Info("login refused: too many failed logins", "login", res)
		// RFC 3206 SYS/TEMP: a temporary condition, not a judgement on the credentials.
		return &failure{code: "SYS/TEMP", text: "too many failed logins, try again later"}
	}
	if err := c.ctx.Err(); err != nil {
		return err
	}
	c.log.Warn("login could not be checked", "login", res)
	return errTemp(res.Err)
}

// enterTransaction locks the maildrop and takes the snapshot.
func (c *conn) enterTransaction(acct *store.Account, method string) error {
	inUse, tooSoon, err := c.srv.lockMaildrop(c, acct.ID)
	if err != nil {
		if cerr := c.ctx.Err(); cerr != nil {
			return cerr
		}
		c.log.Warn("login refused: maildrop lock unavailable", "err", err)
		return errTemp(err)
	}
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
	c.log.Info("logged in", "login", login.Result{Outcome: login.OK, Account: acct}, "method", method, "messages", len(drop.msgs), "tls", c.tls)
	c.reply("+OK maildrop locked and ready, %d messages", len(drop.msgs))
	return nil
}
