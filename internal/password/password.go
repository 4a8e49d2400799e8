// Package password hashes and verifies account passwords.
//
// Two independent credentials are derived when a password is set:
//
//   - an argon2id hash (RFC 9106) in PHC string format,
//     "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", used for PLAIN/LOGIN, POP3
//     USER/PASS and webmail logins (see hash.go);
//   - SCRAM-SHA-256 keys (RFC 5802, RFC 7677): salt, iteration count, StoredKey and
//     ServerKey, used for SASL SCRAM-SHA-256 without ever storing the password or
//     the SaltedPassword (see scram.go).
//
// Invariants:
//   - The package holds no state; every function is safe for concurrent use.
//   - Passwords are normalised with the RFC 8265 OpaqueString profile before they
//     are hashed or verified, so "é" typed as one code point or as "e" plus a
//     combining accent is the same password.
//   - Verify compares digests in constant time and never panics on a malformed or
//     hostile encoding: parameters outside sane bounds are rejected before any work
//     is done, so a corrupted row cannot make a login allocate gigabytes.
//   - Salts come from crypto/rand; a failing random source is an error, never a
//     silently weaker hash.
package password

import (
	"errors"
	"fmt"

	"golang.org/x/text/secure/precis"
)

// ErrMalformed is wrapped by every error caused by an encoding (PHC string or
// marshalled SCRAM keys) that cannot be parsed or carries out-of-range parameters.
var ErrMalformed = errors.New("malformed password encoding")

// ErrInvalidPassword is returned when a new password cannot be normalised
// (empty, or containing code points that RFC 8265 OpaqueString disallows, such as
// control characters).
var ErrInvalidPassword = errors.New("invalid password")

// normalize applies the RFC 8265 section 4.2 OpaqueString profile: non-ASCII
// spaces become U+0020, the string is NFC-normalised, and it must be non-empty and
// free of disallowed code points (controls, unassigned code points, ...).
//
// Note for SCRAM: RFC 5802 section 2.2 specifies SASLprep (RFC 4013), which was
// superseded by RFC 7613/8265 OpaqueString. The two agree on every password made of
// printable ASCII and differ only for compatibility characters (SASLprep applies
// NFKC, OpaqueString NFC) and a few mapped-to-nothing code points. A client using
// SASLprep and a password with such characters will fail SCRAM but still succeed
// with PLAIN.
func normalize(pw string) (string, error) {
	// precis.OpaqueString is immutable and allocates its buffers per call, so it
	// is safe for concurrent use.
	s, err := precis.OpaqueString.String(pw)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidPassword, err)
	}
	return s, nil
}
