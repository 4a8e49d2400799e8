package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"gannet/internal/store"
)

// Queue leases (store.QueueStore) on SQLite. One process owns a data
// directory and runs its queue (docs/ARCHITECTURE.md, "Several nodes": only
// PostgreSQL has several), so there is never another instance whose lease
// could exclude a recipient or a domain: the leases live in this Store's
// memory, where QueueDue writes nothing to disk (no commit per dispatch) and
// a restart starts with none, as a new instance would find the old one's
// lapsed. They are kept so that the contract holds (a lease is visible in
// QueueMessage and QueueList, renewed, released, ended by QueueUpdate).

type leaseKey struct {
	msg  int64
	addr string
}

// queueLeases are this Store's leases: recipient → lease end.
type queueLeases struct {
	owner string // this Store's instance name
	mu    sync.Mutex
	until map[leaseKey]time.Time
}

func newQueueLeases() *queueLeases {
	var b [4]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	return &queueLeases{
		owner: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])),
		until: map[leaseKey]time.Time{},
	}
}

// fill sets the lease fields of rcpts from the table.
func (l *queueLeases) fill(rcpts []store.QueuedRecipient) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range rcpts {
		if u, ok := l.until[leaseKey{rcpts[i].MessageID, rcpts[i].Address}]; ok {
			rcpts[i].LeaseOwner, rcpts[i].LeaseUntil = l.owner, u
		}
	}
}

// take leases rcpts until until. A lapsed lease stays, as on PostgreSQL
// until another instance takes the recipient: the queue checks that what it
// delivers is still leased to it. Entries go with their recipients (end):
// QueueUpdate and QueueDrop are the only ways out of the queue.
func (l *queueLeases) take(rcpts []store.QueuedRecipient, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	until = fromUnix(until.Unix()) // seconds, as every queue time
	for i := range rcpts {
		l.until[leaseKey{rcpts[i].MessageID, rcpts[i].Address}] = until
		rcpts[i].LeaseOwner, rcpts[i].LeaseUntil = l.owner, until
	}
}

// end forgets the leases of the given recipients; addr "" means every
// recipient of the message.
func (l *queueLeases) end(msg int64, addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if addr != "" {
		delete(l.until, leaseKey{msg, addr})
		return
	}
	for k := range l.until {
		if k.msg == msg {
			delete(l.until, k)
		}
	}
}

// QueueDue implements store.QueueStore.
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.QueuedRecipient, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	due, err := s.queueRcpts(ctx, `SELECT `+queueRcptCols+` FROM queue_recipients WHERE next_attempt <= ?
		ORDER BY next_attempt, message_id, address LIMIT ?`, now.Unix(), limit)
	if err != nil {
		return nil, err
	}
	s.leases.take(due, now.Add(lease))
	return due, nil
}

// QueueRenew implements store.QueueStore.
func (s *Store) QueueRenew(ctx context.Context, now time.Time, lease time.Duration) (int, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	l := s.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	until := fromUnix(now.Add(lease).Unix())
	for k := range l.until {
		l.until[k] = until
	}
	return len(l.until), nil
}

// QueueRelease implements store.QueueStore.
func (s *Store) QueueRelease(ctx context.Context) error {
	if err := s.alive(); err != nil {
		return err
	}
	l := s.leases
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.until)
	return nil
}

// QueueNextAttempt implements store.QueueStore. Every lease is this
// instance's, so none delays anything.
func (s *Store) QueueNextAttempt(ctx context.Context) (time.Time, bool, error) {
	if err := s.alive(); err != nil {
		return time.Time{}, false, err
	}
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MIN(next_attempt) FROM queue_recipients`).Scan(&next); err != nil {
		return time.Time{}, false, fmt.Errorf("queue: %w", err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromUnix(next.Int64), true, nil
}
