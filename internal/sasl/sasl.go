// Package sasl has the server side of the SASL mechanisms Gannet offers, shared by
// SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH. Every mechanism implements
// go-sasl's sasl.Server, so go-smtp takes them as they are.
//
// Invariants: a mechanism calls its Authenticator exactly once, with the
// credentials the client sent, and never logs them.
package sasl

import (
	"bytes"
	"errors"

	gosasl "github.com/emersion/go-sasl"
)

// Authenticator checks credentials. identity is the authorization identity
// (empty when the client sent none).
type Authenticator func(identity, username, password string) error

// ErrMalformed is a response that does not follow the mechanism.
var ErrMalformed = errors.New("malformed SASL response")

// Server is a server-side mechanism (go-sasl's interface).
type Server = gosasl.Server

// Mechanism names.
const (
	Plain = "PLAIN"
	Login = "LOGIN"
)

// NewPlain returns the PLAIN mechanism (RFC 4616): one message,
// authzid NUL authcid NUL passwd.
func NewPlain(auth Authenticator) Server {
	return &plain{auth: auth}
}

type plain struct {
	auth Authenticator
	done bool
}

func (p *plain) Next(response []byte) ([]byte, bool, error) {
	if p.done {
		return nil, true, ErrMalformed
	}
	if response == nil {
		// No initial response: ask for it with an empty challenge (RFC 4422 3.3).
		return []byte{}, false, nil
	}
	p.done = true
	parts := bytes.Split(response, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return nil, true, ErrMalformed
	}
	return nil, true, p.auth(string(parts[0]), string(parts[1]), string(parts[2]))
}

// NewLogin returns the LOGIN mechanism (draft-murchison-sasl-login-00): the
// server asks "Username:" then "Password:". Outlook and older clients use it.
// An initial response, if sent, is the username.
func NewLogin(auth Authenticator) Server {
	return &login{auth: auth}
}

type login struct {
	auth     Authenticator
	step     int
	username string
}

func (l *login) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(response) == 0 {
			return []byte("Username:"), false, nil
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		if len(response) == 0 {
			l.step = 3
			return nil, true, ErrMalformed
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.auth("", l.username, string(response))
	default:
		return nil, true, ErrMalformed
	}
}
