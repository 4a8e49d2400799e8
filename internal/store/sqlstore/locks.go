package sqlstore

import (
	"context"
	"sync"

	"gannet/internal/store"
)

// memLocks implements store.Locker in memory: one process owns a SQLite data
// directory (datadir.go refuses a second), so a lock held in this process's
// memory is held for everyone who shares the store. A lock is lost only when
// the Store closes.
//
// Locking: mu guards every field.
type memLocks struct {
	mu     sync.Mutex
	held   map[string]*memLock
	closed bool
}

type memLock struct {
	t    *memLocks
	key  string
	lost chan struct{}
}

// TryLock implements store.Locker.
func (s *Store) TryLock(ctx context.Context, key string) (store.Lock, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	t := &s.locks
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || s.closed.Load() {
		return nil, false, store.ErrClosed
	}
	if _, ok := t.held[key]; ok {
		return nil, false, nil
	}
	if t.held == nil {
		t.held = map[string]*memLock{}
	}
	l := &memLock{t: t, key: key, lost: make(chan struct{})}
	t.held[key] = l
	return l, true, nil
}

// Release implements store.Lock.
func (l *memLock) Release() {
	l.t.mu.Lock()
	defer l.t.mu.Unlock()
	if l.t.held[l.key] == l {
		delete(l.t.held, l.key)
	}
}

// Lost implements store.Lock.
func (l *memLock) Lost() <-chan struct{} { return l.lost }

// close ends every lock (the Store is closing): their holders are told.
func (t *memLocks) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for k, l := range t.held {
		close(l.lost)
		delete(t.held, k)
	}
}
