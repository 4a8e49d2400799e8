package store

import (
	"context"
	"time"
)

// WebSession is one logged-in webmail browser as the store keeps it, so that
// the session is valid on every node sharing the store (docs/ARCHITECTURE.md,
// "Several nodes").
//
// The cookie's token is never stored, only its SHA-256: a copy of the
// database (a backup, a replica) gives no one a usable cookie. The token is
// 256 random bits, so its hash is a safe lookup key and needs no salt.
type WebSession struct {
	TokenHash [32]byte // SHA-256 of the cookie's token
	AccountID int64
	// CSRF is the token the browser sends back in X-CSRF-Token on every
	// state-changing request.
	CSRF string
	// Credential is a digest of the account's password hash at login: a
	// password changed since (by any node) ends the session.
	Credential [32]byte
	Created    time.Time // unix seconds
	LastSeen   time.Time // unix seconds; written at most every few seconds
}

// WebSessions is the webmail session table. Times are kept in unix seconds.
type WebSessions interface {
	// CreateWebSession stores a new session. When perAccount > 0 it first
	// deletes the account's oldest sessions (by Created) so that the
	// account keeps at most perAccount, the new one included, in the same
	// transaction. ErrExists if the hash is taken.
	CreateWebSession(ctx context.Context, s WebSession, perAccount int) error
	// WebSession returns the session with that token hash; ErrNotFound if
	// there is none (it never existed, was deleted or expired).
	WebSession(ctx context.Context, tokenHash [32]byte) (*WebSession, error)
	// TouchWebSession moves the session's LastSeen forward to at (never
	// back); ErrNotFound if there is no such session. Callers write it at
	// most every few seconds per session, not on every request.
	TouchWebSession(ctx context.Context, tokenHash [32]byte, at time.Time) error
	// DeleteWebSession deletes one session (logout) and reports whether it
	// existed.
	DeleteWebSession(ctx context.Context, tokenHash [32]byte) (bool, error)
	// DeleteAccountWebSessions deletes every session of an account and
	// returns how many there were.
	DeleteAccountWebSessions(ctx context.Context, accountID int64) (int, error)
	// ExpireWebSessions deletes the sessions last seen before idleBefore or
	// created before createdBefore and then, when maxTotal > 0, the least
	// recently seen beyond maxTotal, and returns how many it deleted. The
	// total bound costs a walk of the table's last-seen index, so it is
	// applied here, by a periodic sweep, rather than at every login.
	ExpireWebSessions(ctx context.Context, idleBefore, createdBefore time.Time, maxTotal int) (int, error)
}
