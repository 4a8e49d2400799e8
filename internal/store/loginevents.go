package store

import (
	"context"
	"time"
)

// LoginEvent is a failed or good login one node's failed-login limiter saw,
// shared through the store so that every node's limiter counts it (several
// nodes on one store: a guesser spreading attempts over the nodes behind a
// load balancer is blocked as on one). Accounts are the limiter's account
// keys (digests), never the names typed.
type LoginEvent struct {
	Prefix   string   // the address's prefix, "192.0.2.7/32" or "2001:db8::/64"
	Accounts []string // account keys (binary digests)
	Success  bool
	At       time.Time
}

// LoginEventStore is what a store shared by several processes offers to
// share failed logins (PostgreSQL). It is not part of Store: one process
// owns a SQLite store and its limiter sees every login already.
type LoginEventStore interface {
	// AddLoginEvents records events seen by this process.
	AddLoginEvents(ctx context.Context, events []LoginEvent) error
	// LoginEvents returns the events other processes recorded after cursor
	// since, and the cursor to pass next time; since < 0 returns just the
	// current cursor. Events are kept for at least LoginEventsRetention.
	LoginEvents(ctx context.Context, since int64) (next int64, events []LoginEvent, err error)
}

// LoginEventsRetention is how long a LoginEventStore keeps events: longer
// than any limiter window that counts them.
const LoginEventsRetention = 10 * time.Minute
