package sasl

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/xdg-go/scram"

	"gannet/internal/password"
)

// SCRAMSHA256 is the mechanism name (RFC 7677). The channel-binding variant
// SCRAM-SHA-256-PLUS is not offered: TLS terminates in Gannet, but tls-unique
// is unsafe without extended master secret and tls-exporter needs every client
// to agree on TLS 1.3 details (RFC 9266); plain SCRAM under TLS is what clients
// use today.
const SCRAMSHA256 = "SCRAM-SHA-256"

// Errors of the SCRAM mechanism. Protocols answer all of them like a failed
// authentication; they are distinct for logs and tests.
var (
	// ErrAuthFailed is a wrong password, an unknown user, or an authorization
	// identity other than the user (Gannet has no proxy authorization).
	ErrAuthFailed = errors.New("SCRAM authentication failed")
	// ErrChannelBinding is a client that requires channel binding (gs2 flag
	// "p"): we advertise only SCRAM-SHA-256, so RFC 5802 section 6 has us fail.
	ErrChannelBinding = errors.New("SCRAM channel binding not supported")
)

// SCRAMLookup returns the SCRAM-SHA-256 keys of username. ok is false when
// the account does not exist or has no usable keys: the exchange then goes on
// with fake keys, so that the client cannot tell an unknown user from a wrong
// password (RFC 5802 section 9 suggests this). A non-nil error ends the
// exchange at once and is what Next returns: the protocol uses it for a client
// the failed-login limiter blocks, or a store failure. The lookup may sleep
// (the limiter's delay) before it returns.
type SCRAMLookup func(username string) (keys password.SCRAMKeys, ok bool, err error)

// SCRAMResult is told the outcome of an exchange that reached the client's
// proof: ok is true only for a valid proof of an existing account. On failure
// its error (or ErrAuthFailed if it returns nil) is what Next returns; on
// success a non-nil error fails the exchange (the account vanished, shutdown).
type SCRAMResult func(username string, ok bool) error

// NewSCRAMSHA256 returns the server side of SCRAM-SHA-256 (RFC 5802, RFC
// 7677). secret keys the fake credentials of unknown users: it must be secret
// (else an attacker computes the fake salt of a name and compares) and should
// be stable for the life of the server (else two attempts with one unknown
// name see two salts); 32 random bytes per server do.
//
// The exchange (RFC 5802 section 5, with the SASL profile rule that
// additional data with success is sent as a last challenge, RFC 4954 4,
// RFC 9051 6.2.2, RFC 5034 4):
//
//	C: client-first (n,,n=user,r=cnonce), possibly as the initial response
//	S: server-first (r=cnonce+snonce,s=salt,i=4096)
//	C: client-final (c=biws,r=...,p=proof)
//	S: server-final (v=signature) as a challenge
//	C: empty response
//	S: success
//
// result is called once the proof has been checked: with false at once, with
// true only after the client accepted the server's signature.
func NewSCRAMSHA256(secret []byte, lookup SCRAMLookup, result SCRAMResult) Server {
	return &scramServer{secret: secret, lookup: lookup, result: result}
}

type scramServer struct {
	secret []byte
	lookup SCRAMLookup
	result SCRAMResult

	step      int
	conv      *scram.ServerConversation
	username  string
	known     bool  // lookup found real keys
	lookupErr error // the lookup's own error, to return it unchanged
}

func (s *scramServer) Next(response []byte) ([]byte, bool, error) {
	switch s.step {
	case 0:
		if response == nil {
			// SCRAM is client-first; without an initial response ask for
			// it with an empty challenge (RFC 4422 3.3).
			s.step = 1
			return []byte{}, false, nil
		}
		return s.first(response)
	case 1:
		return s.first(response)
	case 2:
		return s.final(response)
	case 3:
		// RFC 4422 3.6: the client acknowledges the server-final message
		// with an empty response.
		s.step = 4
		if len(response) != 0 {
			return nil, true, ErrMalformed
		}
		if err := s.result(s.username, true); err != nil {
			return nil, true, err
		}
		return nil, true, nil
	default:
		return nil, true, ErrMalformed
	}
}

// first handles client-first-message and answers server-first-message.
func (s *scramServer) first(response []byte) ([]byte, bool, error) {
	s.step = 4 // until proven otherwise, the exchange is over
	srv, err := scram.SHA256.NewServer(s.credentials)
	if err != nil {
		return nil, true, fmt.Errorf("scram server: %w", err)
	}
	// No channel binding: a "p" flag fails, "n" and "y" pass (RFC 5802 6).
	s.conv = srv.NewConversation()
	out, err := s.conv.Step(string(response))
	switch {
	case s.lookupErr != nil:
		return nil, true, s.lookupErr
	case out == scram.ErrChannelBindingNotSupported:
		return nil, true, ErrChannelBinding
	case err != nil:
		return nil, true, ErrMalformed
	}
	s.step = 2
	return []byte(out), false, nil
}

// final handles client-final-message: every failure here is a failed login,
// counted by the protocol through result, whether the proof was wrong or the
// message garbled (an exchange that got a salt is an attempt).
func (s *scramServer) final(response []byte) ([]byte, bool, error) {
	s.step = 4
	out, err := s.conv.Step(string(response))
	// RFC 5802 5.1 a=: Gannet acts only as the authenticated user.
	authzOK := s.conv.AuthzID() == "" || strings.EqualFold(s.conv.AuthzID(), s.username)
	if err != nil || !s.conv.Valid() || !s.known || !authzOK {
		if rerr := s.result(s.username, false); rerr != nil {
			return nil, true, rerr
		}
		return nil, true, ErrAuthFailed
	}
	s.step = 3
	return []byte(out), false, nil
}

// credentials is xdg-go/scram's credential lookup: real keys for a known
// account, fake ones otherwise.
func (s *scramServer) credentials(username string) (scram.StoredCredentials, error) {
	s.username = username
	keys, ok, err := s.lookup(username)
	if err != nil {
		s.lookupErr = err
		return scram.StoredCredentials{}, err
	}
	if !ok {
		keys = fakeSCRAMKeys(s.secret, username)
	}
	s.known = ok
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(keys.Salt), Iters: keys.Iterations},
		StoredKey:  keys.StoredKey,
		ServerKey:  keys.ServerKey,
	}, nil
}

// fakeSCRAMKeys derives stable keys for a user that does not exist: the same
// name always gets the same salt, as a real account would, and names differing
// only in case (which the store treats as one account) get the same keys. No
// password matches them but the client cannot know that.
func fakeSCRAMKeys(secret []byte, username string) password.SCRAMKeys {
	name := strings.ToLower(username)
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(name))
		return m.Sum(nil)
	}
	return password.SCRAMKeys{
		Salt:       derive("salt")[:16], // the length NewSCRAMKeys uses
		Iterations: password.SCRAMIterations,
		StoredKey:  derive("stored"),
		ServerKey:  derive("server"),
	}
}
