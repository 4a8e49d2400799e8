package pgstore

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// waitLock retries TryLock on s until it succeeds or d passes: PostgreSQL
// releases a closed session's locks when its backend exits, a moment after
// the client has closed the connection.
func waitLock(t *testing.T, s *Store, key string, d time.Duration) store.Lock {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		l, ok, err := s.TryLock(t.Context(), key)
		if err != nil {
			t.Fatalf("TryLock(%q): %v", key, err)
		}
		if ok {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("TryLock(%q) still refused after %v", key, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func mustTry(t *testing.T, s *Store, key string, want bool, what string) store.Lock {
	t.Helper()
	l, ok, err := s.TryLock(t.Context(), key)
	if err != nil {
		t.Fatalf("%s: TryLock(%q): %v", what, key, err)
	}
	if ok != want {
		t.Fatalf("%s: TryLock(%q) = %v, want %v", what, key, ok, want)
	}
	return l
}

// TestLocksAcrossNodes: two nodes on one database. A lock held on A is
// refused on B; released on A, B takes it; and when A dies (closes), its
// locks go with its connection and B takes them.
func TestLocksAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	la := mustTry(t, a, "pop3:1", true, "A first")
	mustTry(t, b, "pop3:1", false, "B while A holds it")
	lb2 := mustTry(t, b, "pop3:2", true, "B, another key")
	mustTry(t, a, "pop3:2", false, "A while B holds pop3:2")
	la.Release()
	lb := mustTry(t, b, "pop3:1", true, "B after A released")
	mustTry(t, a, "pop3:1", false, "A while B holds it")
	la.Release() // A's second Release must not touch B's lock
	mustTry(t, a, "pop3:1", false, "A after its second Release")
	lb.Release()
	lb2.Release()

	// Node death: A holds three locks and closes.
	var held []store.Lock
	for _, k := range []string{"pop3:1", "pop3:2", "pop3:3"} {
		held = append(held, mustTry(t, a, k, true, "A before dying"))
	}
	mustTry(t, b, "pop3:3", false, "B while A is alive")
	a.Close()
	for _, l := range held {
		select {
		case <-l.Lost():
		default:
			t.Fatal("a lock of the closed node is not marked lost")
		}
	}
	for _, k := range []string{"pop3:1", "pop3:2", "pop3:3"} {
		waitLock(t, b, k, 5*time.Second).Release()
	}
}

// TestLocksConnectionLost: when a node's lock connection is killed, the
// database releases its locks at once; the node notices within a few
// seconds and closes every holder's Lost; another node can take them; the
// old holder's Release does nothing; and the node takes locks again on a new
// connection.
func TestLocksConnectionLost(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	la := mustTry(t, a, "pop3:1", true, "A first")
	la2 := mustTry(t, a, "pop3:2", true, "A second")
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var killed int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, "gannet locks "+a.Node()).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("killed %d lock connections of node A, want 1", killed)
	}
	lb := waitLock(t, b, "pop3:1", 5*time.Second)
	for i, l := range []store.Lock{la, la2} {
		select {
		case <-l.Lost():
		case <-time.After(3 * lockCheckEvery):
			t.Fatalf("lock %d: Lost not closed %v after the connection was killed", i, 3*lockCheckEvery)
		}
	}
	la.Release() // lost: nothing to do, and B's lock stays
	mustTry(t, a, "pop3:1", false, "A while B holds it, after the loss")
	la3 := mustTry(t, a, "pop3:2", true, "A again on a new connection")
	mustTry(t, b, "pop3:2", false, "B while A holds it again")
	la3.Release()
	lb.Release()
}

// TestLocksCallerCancel: a TryLock whose caller gives up (its context
// cancelled) does not cost the node the locks it holds.
func TestLocksCallerCancel(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	la := mustTry(t, a, "pop3:1", true, "A first")
	for range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		go cancel()
		if l, ok, err := a.TryLock(ctx, "pop3:2"); err == nil && ok {
			l.Release()
		}
	}
	select {
	case <-la.Lost():
		t.Fatal("a cancelled TryLock lost the node's other locks")
	default:
	}
	mustTry(t, b, "pop3:1", false, "B while A still holds it")
	la.Release()
}
