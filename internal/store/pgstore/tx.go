package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"gannet/internal/store"
)

// tx is one write transaction and the changes it will publish after commit.
type tx struct {
	pgx.Tx
	changes []store.Change
}

// publish queues a change for the subscribers; it is sent only if the
// transaction commits (docs/ARCHITECTURE.md: never publish before commit).
func (t *tx) publish(c store.Change) { t.changes = append(t.changes, c) }

// maxAttempts bounds the retries of a transaction that PostgreSQL aborted for
// a serialization failure or a deadlock; both mean "run it again".
const maxAttempts = 8

// write runs fn in a transaction and commits it, retrying on serialization
// failures and deadlocks; after the commit it publishes the transaction's
// changes to this node's hub. The NOTIFY for the other nodes is sent inside
// the transaction: PostgreSQL delivers it only on commit, and never if the
// transaction rolls back.
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, t *tx) error) error {
	if err := s.alive(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		err := s.tryWrite(ctx, fn)
		if err == nil {
			return nil
		}
		if !retryable(err) || attempt == maxAttempts {
			return mapErr(err)
		}
		// Back off a little, randomly, so that two transactions that
		// deadlocked do not meet again at once.
		d := time.Duration(attempt) * time.Duration(1+rand.IntN(5)) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

func (s *Store) tryWrite(ctx context.Context, fn func(ctx context.Context, t *tx) error) error {
	ptx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{Tx: ptx}
	if err := fn(ctx, t); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := s.notifyChanges(ctx, t); err != nil {
		_ = ptx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	tk := s.pub.ticket(t.changes)
	err = ptx.Commit(ctx)
	s.pub.publish(tk, func() {
		if err == nil {
			s.hub.Publish(t.changes...)
		}
	})
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// pubStripes is the number of publish queues of pubOrder.
const pubStripes = 64

// pubOrder makes the hub receive each account's changes in commit order,
// MODSEQ ascending (RFC 7162 3.1), although commits finish in parallel
// goroutines in any order. A writer takes a ticket in its accounts' stripes
// before COMMIT, while it still holds their row locks, so the next writer to
// an account takes its ticket after this one; after COMMIT each writer
// publishes only once the earlier tickets of its stripes are done (published,
// or dropped by a failed commit). Commits themselves never wait for each
// other here: PostgreSQL's group commit stays intact.
type pubOrder struct {
	mu   sync.Mutex
	cond sync.Cond
	next [pubStripes]uint64 // last ticket handed out, per stripe
	done [pubStripes]uint64 // last ticket published, per stripe
}

// pubTicket is a writer's place in its stripes' queues (0: not in it).
type pubTicket *[pubStripes]uint64

// ticket takes the places of the accounts of changes; nil when there are none.
// Tickets of all stripes are taken at once, so the waits cannot form a cycle.
func (p *pubOrder) ticket(changes []store.Change) pubTicket {
	if len(changes) == 0 {
		return nil
	}
	var tk [pubStripes]uint64
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range changes {
		i := uint64(c.AccountID) % pubStripes
		if tk[i] == 0 {
			p.next[i]++
			tk[i] = p.next[i]
		}
	}
	return &tk
}

// publish waits for the earlier tickets of tk's stripes, runs fn (which
// must not block) and marks tk done.
func (p *pubOrder) publish(tk pubTicket, fn func()) {
	if tk == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cond.L == nil {
		p.cond.L = &p.mu
	}
	for !p.ready(tk) {
		p.cond.Wait()
	}
	fn()
	for i, n := range tk {
		if n != 0 {
			p.done[i] = n
		}
	}
	p.cond.Broadcast()
}

func (p *pubOrder) ready(tk pubTicket) bool {
	for i, n := range tk {
		if n != 0 && p.done[i] != n-1 {
			return false
		}
	}
	return true
}

// SQLSTATEs (PostgreSQL appendix A).
const (
	sqlUniqueViolation      = "23505"
	sqlForeignKeyViolation  = "23503"
	sqlSerializationFailure = "40001"
	sqlDeadlockDetected     = "40P01"
	sqlDiskFull             = "53100"
	sqlOutOfMemory          = "53200"
	sqlProgramLimitExceeded = "54000"
)

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func retryable(err error) bool {
	switch sqlState(err) {
	case sqlSerializationFailure, sqlDeadlockDetected:
		return true
	}
	return false
}

// isForeignKey reports a foreign-key violation (a reference to something
// that does not exist, or a delete of something still referenced).
func isForeignKey(err error) bool { return sqlState(err) == sqlForeignKeyViolation }

// mapErr turns the database's "no room" into store.ErrStorageFull, so that
// protocols answer with a temporary failure rather than an internal error,
// and no rows into store.ErrNotFound.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case sqlState(err) == sqlDiskFull, errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w: %w", store.ErrStorageFull, err)
	}
	return err
}

// lockAccount takes the account row's lock until commit and returns the
// account's current MODSEQ. Every write to an account's mail takes it first,
// so that writes to one account run one at a time in commit order (MODSEQs
// and UIDs handed out in the order readers see them, RFC 7162 3.1) and quota
// checks under it are exact. A write touching several accounts (a delivery
// to many recipients) locks them in ascending id order, so that two such
// writes cannot deadlock. ErrNotFound when the account does not exist.
func lockAccount(ctx context.Context, t *tx, accountID int64) (uint64, error) {
	var m int64
	err := t.QueryRow(ctx, `SELECT modseq FROM accounts WHERE id = $1 FOR UPDATE`, accountID).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("account %d: lock: %w", accountID, err)
	}
	return uint64(m), nil
}

// nextModSeq bumps the account's MODSEQ and returns the new value. Call it
// once per write that changes something, under lockAccount (it takes the
// lock itself if not).
func nextModSeq(ctx context.Context, t *tx, accountID int64) (uint64, error) {
	var m int64
	err := t.QueryRow(ctx, `UPDATE accounts SET modseq = modseq + 1 WHERE id = $1 RETURNING modseq`, accountID).Scan(&m)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("account %d: modseq: %w", accountID, err)
	}
	return uint64(m), nil
}
