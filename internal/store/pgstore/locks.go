package pgstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// Cluster-wide locks (store.Locker) are PostgreSQL session-level advisory
// locks, all held on one dedicated connection per node, not on a pooled
// connection per holder: a node with a thousand POP3 sessions holds one
// connection for their locks. When the node dies its connection ends and
// PostgreSQL releases every lock it held, so a crashed node never leaves a
// maildrop locked.
//
// Losing the connection (the network, a restarted database, a killed
// backend) loses every lock on it: PostgreSQL has released them and another
// node may take them at once. The node learns of it at its next use of the
// connection or from the watchdog, which checks it every lockCheckEvery
// while it is open; then every held lock's Lost channel is closed and its
// Release does nothing. The holders are told rather than the locks silently
// taken again: between the loss and a new attempt another node may have
// taken a lock, and a POP3 session that had lost its lock must not commit
// deletions (RFC 2449 8.1.2). So a loss ends the affected sessions within
// about lockCheckEvery; the next TryLock opens a new connection.
//
// Session-level advisory locks stack within one database session, so the
// connection would grant a lock it already holds: the held map refuses a
// second holder in this process before PostgreSQL is asked.
const (
	lockCheckEvery = 2 * time.Second
	lockQueryLimit = 5 * time.Second // one lock query or ping
	lockDialLimit  = 10 * time.Second
)

// lockNamespace is hashed with every key, so that Gannet's keys do not meet
// another application's advisory locks on the same database by accident.
const lockNamespace = "gannet lock\x00"

// lockID maps a lock name to a 64-bit advisory lock key. Two names that
// collide (2^-64) share a lock: a spurious refusal, never a double grant.
func lockID(key string) int64 {
	h := sha256.Sum256([]byte(lockNamespace + key))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// lockTable is one node's locks and the connection that holds them.
//
// Locking: mu guards every field; it is held while talking to the database
// about locks (each query bounded by lockQueryLimit), never while a holder
// runs.
type lockTable struct {
	mu      sync.Mutex
	conn    *pgx.Conn // nil until the first TryLock, and after a loss
	held    map[string]*pgLock
	closed  bool
	stop    chan struct{} // closed by close: ends the watchdog
	watchWG sync.WaitGroup
}

type pgLock struct {
	t    *lockTable
	key  string
	id   int64
	lost chan struct{}
}

// Release implements store.Lock.
func (l *pgLock) Release() { l.t.release(l) }

// Lost implements store.Lock.
func (l *pgLock) Lost() <-chan struct{} { return l.lost }

// TryLock implements store.Locker.
func (s *Store) TryLock(ctx context.Context, key string) (store.Lock, bool, error) {
	if err := s.alive(); err != nil {
		return nil, false, err
	}
	t := &s.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, false, store.ErrClosed
	}
	if _, ok := t.held[key]; ok {
		return nil, false, nil
	}
	id := lockID(key)
	// A connection that broke while no lock was held costs nothing to
	// replace: try once more on a new one.
	for attempt := 1; ; attempt++ {
		if err := s.lockConnLocked(ctx); err != nil {
			return nil, false, err
		}
		// Not the caller's context: a query cancelled half-way may leave
		// pgx to close the connection, and with it every lock of the node,
		// because one client hung up during its login.
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockQueryLimit)
		var ok bool
		err := t.conn.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", id).Scan(&ok)
		cancel()
		if err == nil {
			if !ok {
				return nil, false, nil
			}
			l := &pgLock{t: t, key: key, id: id, lost: make(chan struct{})}
			t.held[key] = l
			return l, true, nil
		}
		hadLocks := len(t.held) > 0
		s.loseLocksLocked(err)
		if hadLocks || attempt == 2 {
			return nil, false, fmt.Errorf("lock %s: %w", key, err)
		}
	}
}

// lockConnLocked opens the lock connection if there is none, and starts the
// watchdog with the first one. Under t.mu.
func (s *Store) lockConnLocked(ctx context.Context) error {
	t := &s.locks
	if t.conn != nil && !t.conn.IsClosed() {
		return nil
	}
	cfg, err := pgx.ParseConfig(s.dsn)
	if err != nil {
		return fmt.Errorf("lock connection: %w", err)
	}
	// Named, so that an operator (and the tests) can tell it in pg_stat_activity.
	cfg.RuntimeParams["application_name"] = "gannet locks " + s.node
	dctx, cancel := context.WithTimeout(ctx, lockDialLimit)
	defer cancel()
	conn, err := pgx.ConnectConfig(dctx, cfg)
	if err != nil {
		return fmt.Errorf("lock connection: %w", err)
	}
	t.conn = conn
	if t.held == nil {
		t.held = map[string]*pgLock{}
	}
	if t.stop == nil {
		t.stop = make(chan struct{})
		t.watchWG.Add(1)
		go s.watchLocks(t.stop)
	}
	return nil
}

// watchLocks pings the lock connection every lockCheckEvery while there is
// one, so that a lost connection is noticed even when no one asks for a
// lock: the holders of the lost locks must hear of it.
func (s *Store) watchLocks(stop <-chan struct{}) {
	defer s.locks.watchWG.Done()
	tick := time.NewTicker(lockCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		t := &s.locks
		t.mu.Lock()
		if t.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), lockQueryLimit)
			if err := t.conn.Ping(ctx); err != nil {
				s.loseLocksLocked(err)
			}
			cancel()
		}
		t.mu.Unlock()
	}
}

// release unlocks l if it is still held. A failed unlock leaves the session
// in doubt (PostgreSQL may still hold the lock), so the connection is
// dropped, which releases everything on it, and the other holders are told.
func (t *lockTable) release(l *pgLock) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.held[l.key] != l {
		return // released already, lost, or the store closed
	}
	delete(t.held, l.key)
	ctx, cancel := context.WithTimeout(context.Background(), lockQueryLimit)
	defer cancel()
	var ok bool
	err := t.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", l.id).Scan(&ok)
	if err == nil && !ok {
		err = fmt.Errorf("lock %s was not held by the lock connection", l.key)
	}
	if err != nil {
		t.loseAllLocked()
	}
}

// loseLocksLocked drops the lock connection after err and tells every
// holder. Under t.mu.
func (s *Store) loseLocksLocked(err error) {
	if n := len(s.locks.held); n > 0 {
		s.log.Warn("lock connection lost: its locks are released", "locks", n, "err", err)
	}
	s.locks.loseAllLocked()
}

// loseAllLocked closes the connection (PostgreSQL releases its locks) and
// closes every held lock's Lost channel. Under t.mu.
func (t *lockTable) loseAllLocked() {
	if t.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t.conn.Close(ctx)
		cancel()
		t.conn = nil
	}
	for k, l := range t.held {
		close(l.lost)
		delete(t.held, k)
	}
}

// close releases every lock (by closing the connection) and stops the
// watchdog; TryLock answers ErrClosed from now on.
func (t *lockTable) close() {
	t.mu.Lock()
	t.closed = true
	t.loseAllLocked()
	if t.stop != nil {
		close(t.stop)
	}
	t.mu.Unlock()
	t.watchWG.Wait()
}
