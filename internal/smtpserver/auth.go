package smtpserver

import (
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"gannet/internal/login"
	"gannet/internal/sasl"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// auth handles AUTH (RFC 4954): the mechanism's exchange of 334 challenges
// and client responses, then 235 or the refusal. Every mechanism checks the
// credentials through the login service (Options.Login), the one login
// sequence of every protocol: failed-login limiter (attempts in flight
// counted), its delay, bounded password hashing, a typed outcome that
// loginAnswer turns into SMTP's reply.
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
	// An EndAccount after this instant ends the session once it is logged
	// in (netserver.Server.LoggedIn): the credentials may have been checked
	// against the account as it was before.
	c.authStart = time.Now()
	var (
		m     sasl.Server
		acct  *store.Account
		scram *login.SCRAM
	)
	password := func(identity, user, pw string) error {
		res := c.s.opts.Login.Password(c.ctx, c.ip, identity, user, pw)
		if err := c.loginAnswer(res); err != nil {
			return err
		}
		acct = res.Account
		return nil
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		m = sasl.NewPlain(password)
	case sasl.Login:
		m = sasl.NewLogin(password)
	case sasl.SCRAMSHA256:
		scram = c.newSCRAM()
		defer scram.Close()
		m = scram
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
		// The store is read inside Next (the password check, SCRAM's
		// lookup): session work that Close waits for.
		if !c.s.begin() {
			c.replyR(smtp.ShuttingDown())
			c.closed = true
			return
		}
		ch, done, err := m.Next(resp)
		c.s.end()
		if err != nil {
			var r *smtp.Reply
			if !errors.As(err, &r) {
				// The mechanism's own errors (malformed message, channel
				// binding required) are failed logins.
				r = smtp.AuthFailed()
			}
			c.replyR(r)
			if r.Code == 421 {
				c.closed = true
			}
			return
		}
		if done {
			if scram != nil {
				acct = scram.Account()
			}
			c.loggedIn(acct)
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

// loginAnswer is SMTP's answer to a login outcome (RFC 4954 6), nil for OK:
// 535 5.7.8 for wrong credentials, 454 4.7.0 for a client blocked after too
// many failures or credentials that cannot be checked now, 421 when the
// server is closing. Failures log the login's Result, which names no user
// (only a hash of the name); passwords are never logged.
func (c *conn) loginAnswer(res login.Result) error {
	switch res.Outcome {
	case login.OK:
		return nil
	case login.Wrong:
		if res.NowBlocked {
			c.log.Warn("auth failed; client now blocked", "login", res)
		} else {
			c.log.Info("auth failed", "login", res)
		}
		return smtp.AuthFailed()
	case login.Blocked:
		c.log.Warn("auth refused: too many failed logins", "login", res)
		return smtp.AuthTemporaryFailure().WithText("Too many failed logins, try again later")
	}
	if c.ctx.Err() != nil {
		// The server is closing (Close, or a Shutdown out of time).
		return smtp.ShuttingDown()
	}
	c.log.Warn("auth could not be checked", "login", res)
	return smtp.AuthTemporaryFailure()
}

// loggedIn makes acct the session's account, answers 235, and registers the
// session with netserver for EndAccount. If the account was ended since the
// AUTH began, the session ends at once instead (421 4.7.0).
func (c *conn) loggedIn(acct *store.Account) {
	c.setAccount(acct)
	c.s.ns.LoggedIn(c.acc, acct.ID, c.authStart)
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if ended != nil {
		c.log.Info("authenticated, but the account changed meanwhile", "account", acct.Address)
		c.setAccount(nil)
		c.replyR(ended)
		c.closed = true
		return
	}
	c.log.Info("authenticated", "login", login.Result{Outcome: login.OK, Account: acct})
	c.reply(235, smtp.EnhancedCode{2, 0, 0}, "Authentication succeeded")
}

// setAccount records the authenticated account; nil (after STARTTLS, which
// forgets the session: RFC 3207 4.2) also takes the session out of
// netserver's registry of logged-in sessions. A login registers with
// netserver.LoggedIn (loggedIn).
func (c *conn) setAccount(a *store.Account) {
	c.sess.account = a
	if a == nil {
		c.s.ns.SetAccount(c.acc, 0)
	}
}
