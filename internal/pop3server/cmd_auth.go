package pop3server

import (
	"encoding/base64"
	"errors"
	"strings"

	"gannet/internal/login"
	"gannet/internal/sasl"
)

// cmdAUTH runs a SASL exchange (RFC 5034 4), PLAIN (RFC 4616) or LOGIN, with
// or without an initial response. The credentials go through login, like
// USER/PASS. SASL payloads are never logged.
func (c *conn) cmdAUTH(arg string) error {
	if !c.secure() {
		return errPlaintext()
	}
	if arg == "" {
		// AUTH without a mechanism lists them (RFC 1734, which RFC 5034
		// replaced; older clients still ask).
		c.reply("+OK SASL mechanisms follow")
		c.reply("PLAIN")
		c.reply("LOGIN")
		c.reply("SCRAM-SHA-256")
		c.reply(".")
		return nil
	}
	name, ir, hasIR := strings.Cut(arg, " ")
	var cred struct {
		identity, username, password string
		set                          bool
	}
	record := func(identity, username, password string) error {
		cred.identity, cred.username, cred.password, cred.set = identity, username, password, true
		return nil
	}
	var mech sasl.Server
	var scram *login.SCRAM
	switch strings.ToUpper(name) {
	case sasl.Plain:
		mech = sasl.NewPlain(record)
	case sasl.Login:
		mech = sasl.NewLogin(record)
	case sasl.SCRAMSHA256:
		scram = c.newSCRAM()
		defer scram.Close()
		mech = scram
	default:
		return &failure{text: "unsupported SASL mechanism", bad: true}
	}
	var resp []byte // nil: no initial response
	if hasIR {
		var err error
		if resp, err = decodeSASL(ir); err != nil {
			return err
		}
	}
	for {
		challenge, done, err := mech.Next(resp)
		if err != nil {
			// The login service's outcomes, already answered (loginAnswer:
			// AUTH, SYS/TEMP), pass through; anything else is a failed exchange.
			var f *failure
			if errors.As(err, &f) {
				return err
			}
			if errors.Is(err, sasl.ErrAuthFailed) || errors.Is(err, sasl.ErrChannelBinding) {
				return &failure{code: "AUTH", text: "authentication failed"}
			}
			return &failure{code: "AUTH", text: "authentication failed", bad: true}
		}
		if done {
			break
		}
		// RFC 5034 4: a continuation is "+" SP base64 challenge.
		c.reply("+ %s", base64.StdEncoding.EncodeToString(challenge))
		if err := c.w.Flush(); err != nil {
			return err
		}
		line, err := c.readLine()
		if errors.Is(err, errLineLength) {
			return &failure{text: "SASL response too long", bad: true}
		}
		if err != nil {
			return err
		}
		if line == "*" {
			// RFC 5034 4: the client cancels; the server rejects.
			return &failure{text: "authentication cancelled"}
		}
		if resp, err = decodeSASL(line); err != nil {
			return err
		}
		if resp == nil {
			resp = []byte{}
		}
	}
	if scram != nil {
		if scram.Account() == nil { // cannot happen: success sets it
			return &failure{code: "AUTH", text: "authentication failed"}
		}
		return c.enterTransaction(scram.Account(), sasl.SCRAMSHA256)
	}
	if !cred.set {
		return &failure{code: "AUTH", text: "authentication failed", bad: true}
	}
	return c.login(strings.ToUpper(name), cred.identity, cred.username, cred.password)
}

// decodeSASL decodes a base64 response; "=" is an empty initial response
// (RFC 5034 4).
func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, &failure{text: "invalid base64 in SASL response", bad: true}
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
