package imapserver

import (
	"encoding/base64"
	"errors"
	"strings"

	"gannet/internal/imapwire"
	"gannet/internal/login"
	"gannet/internal/sasl"
)

// errNotYou is an authorization identity other than the authenticated user:
// Gannet has no proxy authorization.
var errNotYou = errors.New("authorization identity differs")

// cmdAuthenticate is AUTHENTICATE (RFC 9051 6.2.2) with SCRAM-SHA-256 (RFC
// 7677), PLAIN and LOGIN, and an initial response (SASL-IR, RFC 4959). Every
// mechanism needs TLS (or dev mode on loopback): SCRAM does not reveal the
// password, but the session after it would still be in the clear.
func (c *conn) cmdAuthenticate(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	mech, err := p.Atom()
	if err != nil {
		return err
	}
	mech = strings.ToUpper(mech)
	var resp []byte
	hasIR := false
	if p.Accept(' ') {
		ir, err := p.Atom()
		if err != nil {
			return err
		}
		hasIR = true
		if ir != "=" { // RFC 4959 3: "=" is an empty initial response
			if resp, err = base64.StdEncoding.DecodeString(ir); err != nil {
				return p.Fail("invalid base64 in initial response")
			}
		}
	}
	if err := p.End(); err != nil {
		return err
	}
	if !c.secure() {
		return errNo("PRIVACYREQUIRED", "Use STARTTLS first")
	}
	var user, password string
	collect := func(identity, u, pw string) error {
		if identity != "" && identity != u {
			return errNotYou
		}
		user, password = u, pw
		return nil
	}
	var srv sasl.Server
	var scram *login.SCRAM
	switch mech {
	case sasl.SCRAMSHA256:
		scram = c.newSCRAM()
		defer scram.Close()
		srv = scram
	case sasl.Plain:
		srv = sasl.NewPlain(collect)
	case sasl.Login:
		srv = sasl.NewLogin(collect)
	default:
		return errNo("", "Unsupported authentication mechanism")
	}
	if hasIR && resp == nil {
		resp = []byte{}
	}
	for {
		challenge, done, err := srv.Next(resp)
		if err != nil {
			var re *respError
			switch {
			case errors.Is(err, errNotYou):
				return errNo("AUTHORIZATIONFAILED", "Authorization identity refused")
			case errors.As(err, &re), errors.Is(err, errShutdown):
				// The login service's outcome, already answered (loginAnswer).
				return err
			}
			return errAuthFailed()
		}
		if done {
			break
		}
		if err := c.out().Continue(base64.StdEncoding.EncodeToString(challenge)); err != nil {
			return err
		}
		line, err := c.r.ReadLine()
		if err != nil {
			if imapwire.IsFatal(err) {
				return err
			}
			return errBad("", "Invalid response")
		}
		if line == "*" { // RFC 9051 6.2.2: the client cancels
			return errBad("", "Authentication cancelled")
		}
		if resp, err = base64.StdEncoding.DecodeString(line); err != nil {
			return errBad("", "Invalid base64 in response")
		}
	}
	if scram != nil {
		if scram.Account() == nil { // cannot happen: success sets it
			return errAuthFailed()
		}
		c.loggedIn(cmd, scram.Account())
		return nil
	}
	return c.authenticate(cmd, user, password)
}
