package smtpserver

import (
	"encoding/base64"
	"errors"
	"strings"

	"gannet/internal/authlimit"
	"gannet/internal/sasl"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// auth handles AUTH (RFC 4954): the mechanism's exchange of 334 challenges
// and client responses, then 235 or the refusal.
func (c *conn) auth(arg string) {
	mech, ir, hasIR := strings.Cut(arg, " ")
	switch {
	case c.s.opts.Mode != Submission:
		c.refuse("auth", smtp.AuthUnavailable())
		return
	case c.sess.helo == "":
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Please introduce yourself first")
		return
	case c.sess.account != nil:
		c.reply(503, smtp.EnhancedCode{5, 5, 1}, "Already authenticated")
		return
	case c.sess.tx != nil:
		// RFC 4954 4: not during a mail transaction.
		c.reply(503, smtp.EnhancedCode{5, 5, 1}, "AUTH not allowed during a mail transaction")
		return
	case mech == "":
		c.reply(501, smtp.EnhancedCode{5, 5, 4}, "Syntax: AUTH mechanism [initial-response]")
		return
	case !c.authAllowed():
		c.refuse("auth", smtp.EncryptionRequired())
		return
	}
	var m sasl.Server
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		m = sasl.NewPlain(c.authenticate)
	case sasl.Login:
		m = sasl.NewLogin(c.authenticate)
	case sasl.SCRAMSHA256:
		m = c.newSCRAM()
	default:
		c.refuse("auth", smtp.UnknownMechanism())
		return
	}
	var resp []byte
	if hasIR {
		var ok bool
		if resp, ok = decodeSASL(strings.TrimSpace(ir)); !ok {
			c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Invalid base64 data")
			return
		}
	}
	for {
		ch, done, err := m.Next(resp)
		if err != nil {
			var r *smtp.Reply
			if !errors.As(err, &r) {
				// The mechanism's own errors (malformed message, channel
				// binding required) are failed logins.
				r = smtp.AuthFailed()
			}
			c.replyR(r)
			return
		}
		if done {
			c.reply(235, smtp.EnhancedCode{2, 0, 0}, "Authentication succeeded")
			return
		}
		c.reply(334, smtp.EnhancedCode{}, base64.StdEncoding.EncodeToString(ch))
		c.startCommandWait()
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err)
			c.closed = true
			return
		}
		if string(line) == "*" {
			// RFC 4954 4: the client cancelled.
			c.reply(501, smtp.EnhancedCode{5, 0, 0}, "Authentication cancelled")
			return
		}
		var ok bool
		if resp, ok = decodeSASL(string(line)); !ok {
			c.reply(501, smtp.EnhancedCode{5, 5, 2}, "Invalid base64 data")
			return
		}
	}
}

// decodeSASL decodes a response; "=" is an empty one (RFC 4954 4).
func decodeSASL(s string) ([]byte, bool) {
	if s == "=" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// The login sequence below (admit, check, count the failure or the success)
// is SMTP's one copy of it, for PLAIN, LOGIN and SCRAM alike.

// authenticate checks credentials through the shared failed-login limiter:
// a blocked client is refused without a password check (454 4.7.0), a client
// with recent failures waits before its answer, and each failure is counted.
// Neither the password nor the attempted user name is logged: users type
// passwords into the user name field.
func (c *conn) authenticate(identity, username, password string) error {
	if err := c.admit(username); err != nil {
		return err
	}
	if !c.s.begin() {
		return smtp.ShuttingDown()
	}
	defer c.s.end()
	// RFC 4616 2: we do not let one user act as another, so an authorization
	// identity other than the user's own fails like a wrong password.
	var acc *store.Account
	var err error
	if identity == "" || strings.EqualFold(identity, username) {
		acc, err = c.s.opts.Store.Authenticate(c.ctx, username, password)
	} else {
		err = store.ErrAuthFailed
	}
	switch {
	case errors.Is(err, store.ErrAuthFailed):
		return c.authFailed(username)
	case err != nil:
		c.log.Error("auth error", "err", err)
		return smtp.AuthTemporaryFailure()
	}
	c.loggedIn(username, acc)
	return nil
}

// admit asks the failed-login limiter whether this client may try username:
// a blocked client is refused without a password check (454 4.7.0), a client
// with recent failures waits before its answer.
func (c *conn) admit(username string) error {
	delay, err := c.s.authLim.Check(c.ip, username)
	if errors.Is(err, authlimit.ErrBlocked) {
		c.log.Warn("auth blocked", "reason", "too many failures")
		return smtp.AuthTemporaryFailure().WithText("Too many failed logins, try again later")
	}
	c.s.sleep(c.ctx, delay)
	return nil
}

// authFailed counts a failure with the limiter and returns the 535 answer.
func (c *conn) authFailed(username string) error {
	blocked := c.s.authLim.Failure(c.ip, username)
	c.log.Info("auth failed", "blocked", blocked)
	return smtp.AuthFailed()
}

// loggedIn records a successful login of acc.
func (c *conn) loggedIn(username string, acc *store.Account) {
	c.s.authLim.Success(c.ip, username)
	c.setAccount(acc)
	c.log.Info("authenticated", "account", acc.Address)
}
