package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"gannet/internal/store"
)

// lockTests: store.Locker, the cluster-wide named locks (POP3 [IN-USE]).
// Across processes is the backend's own test (two nodes on one database);
// these hold within one Store.
func lockTests() []subtest {
	return []subtest{
		{"ExclusiveAndRelease", testLockExclusive},
		{"ReleaseTwice", testLockReleaseTwice},
		{"Concurrent", testLockConcurrent},
		{"Close", testLockClose},
	}
}

func tryLock(t *testing.T, s store.Store, key string) (store.Lock, bool) {
	t.Helper()
	l, ok, err := s.TryLock(context.Background(), key)
	if err != nil {
		t.Fatalf("TryLock(%q): %v", key, err)
	}
	if ok != (l != nil) {
		t.Fatalf("TryLock(%q) = %v, %v: a lock exactly when ok", key, l, ok)
	}
	return l, ok
}

func testLockExclusive(t *testing.T, s store.Store) {
	a, ok := tryLock(t, s, "pop3:1")
	if !ok {
		t.Fatal("TryLock of a free key refused")
	}
	if _, ok := tryLock(t, s, "pop3:1"); ok {
		t.Fatal("a held lock granted twice")
	}
	b, ok := tryLock(t, s, "pop3:2")
	if !ok {
		t.Fatal("another key refused while pop3:1 is held")
	}
	select {
	case <-a.Lost():
		t.Fatal("Lost closed while the lock is held")
	default:
	}
	a.Release()
	select {
	case <-a.Lost():
		t.Fatal("Release closed Lost")
	default:
	}
	a2, ok := tryLock(t, s, "pop3:1")
	if !ok {
		t.Fatal("a released lock refused")
	}
	if _, ok := tryLock(t, s, "pop3:2"); ok {
		t.Fatal("pop3:2 granted while held (releasing pop3:1 released it?)")
	}
	a2.Release()
	b.Release()
}

// testLockReleaseTwice: a second Release of an old holder does not release
// the lock a later holder took.
func testLockReleaseTwice(t *testing.T, s store.Store) {
	a, _ := tryLock(t, s, "k")
	a.Release()
	b, ok := tryLock(t, s, "k")
	if !ok {
		t.Fatal("released lock refused")
	}
	a.Release()
	if _, ok := tryLock(t, s, "k"); ok {
		t.Fatal("an old holder's second Release released the new holder's lock")
	}
	b.Release()
	if _, ok := tryLock(t, s, "k"); !ok {
		t.Fatal("lock refused after its holder released it")
	}
}

// testLockConcurrent: of many goroutines racing for one key, exactly one
// wins, round after round.
func testLockConcurrent(t *testing.T, s store.Store) {
	const workers, rounds = 8, 10
	for r := range rounds {
		key := fmt.Sprintf("race:%d", r)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []store.Lock
		var errs []error
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l, ok, err := s.TryLock(context.Background(), key)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if ok {
					won = append(won, l)
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("round %d: %v", r, errs[0])
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d winners, want 1", r, len(won))
		}
		won[0].Release()
	}
}

// testLockClose: closing the store ends its locks (Lost closed, so their
// holders stop), Release afterwards is harmless, and TryLock refuses.
func testLockClose(t *testing.T, s store.Store) {
	a, _ := tryLock(t, s, "pop3:7")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-a.Lost():
	default:
		t.Fatal("Lost not closed when the store closed")
	}
	a.Release()
	if _, _, err := s.TryLock(context.Background(), "pop3:8"); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("TryLock after Close: %v, want ErrClosed", err)
	}
}
