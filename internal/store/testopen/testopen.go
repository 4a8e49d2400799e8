// Package testopen opens a fresh store for a test on the backend the
// environment variable GANNET_TEST_STORE names: "" or "sqlite" for SQLite in
// t.TempDir() (the default), "postgres" for PostgreSQL. Protocol tests open
// their store here, so that the same tests run on every backend
// (docs/ARCHITECTURE.md, "Testing").
//
// Only _test.go files import this package (the architecture test checks it):
// it is the test-side twin of internal/app's OpenStore, the one place where
// tests name a concrete backend. A test that needs a SQLite-only feature (crash
// recovery, WAL statistics, search probes) opens sqlstore itself and says so.
package testopen

import (
	"context"
	"fmt"
	"os"
	"testing"

	"gannet/internal/store"
	"gannet/internal/store/pgstore"
	"gannet/internal/store/pgstore/pgtest"
	"gannet/internal/store/sqlstore"
)

// EnvVar names the backend the tests run on.
const EnvVar = "GANNET_TEST_STORE"

// Option changes how a store is opened.
type Option func(*options)

type options struct {
	fastPasswords bool
}

// FastPasswords makes password hashing cheap (test-only argon2id parameters),
// for tests that add or log in many accounts.
func FastPasswords(o *options) { o.fastPasswords = true }

// Location is one fresh, empty store that can be opened several times: after
// a simulated restart, or as a second process sharing the store would.
type Location struct {
	backend string
	dir     string // SQLite: the data directory
	dsn     string // PostgreSQL: the database's URL
	opts    options
}

// New makes a fresh, empty store location for tb.
func New(tb testing.TB, opts ...Option) *Location {
	tb.Helper()
	l := &Location{backend: os.Getenv(EnvVar)}
	for _, o := range opts {
		o(&l.opts)
	}
	switch l.backend {
	case "", "sqlite":
		l.backend = "sqlite"
		l.dir = tb.TempDir()
	case "postgres":
		// One server for the whole run, started by ./test.sh (pgtest's
		// pgserve) and named by GANNET_TEST_PG_DSN; each Location is a
		// fresh database on it, dropped when tb ends.
		if os.Getenv(pgtest.EnvDSN) == "" {
			tb.Fatalf("%s=postgres needs %s, the URL of a PostgreSQL superuser connection: ./test.sh starts a throwaway server and sets it", EnvVar, pgtest.EnvDSN)
		}
		cl, err := pgtest.StartOrShared(context.Background(), pgtest.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		l.dsn = cl.NewDatabase(tb)
	default:
		tb.Fatalf("%s=%q: want sqlite or postgres", EnvVar, l.backend)
	}
	return l
}

// RequireSQLite skips tb unless the tests run on SQLite: for a test of a
// SQLite-only feature (a crash of the process that owns the database file,
// the WAL writer, sqlstore's search probe), which says why.
func RequireSQLite(tb testing.TB, why string) {
	tb.Helper()
	if b := os.Getenv(EnvVar); b != "" && b != "sqlite" {
		tb.Skipf("SQLite only (%s); %s=%s", why, EnvVar, b)
	}
}

// Backend is the backend's name: "sqlite" or "postgres".
func (l *Location) Backend() string { return l.backend }

// Open opens the store at l; it is closed when tb ends (Close may also be
// called before).
func (l *Location) Open(tb testing.TB) store.Store {
	tb.Helper()
	st, err := l.open(tb)
	if err != nil {
		tb.Fatalf("open %s store: %v", l.backend, err)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

func (l *Location) open(tb testing.TB) (store.Store, error) {
	switch l.backend {
	case "sqlite":
		st, err := sqlstore.Open(context.Background(), l.dir, sqlstore.Options{FastPasswords: l.opts.fastPasswords})
		if err != nil {
			return nil, err
		}
		return st, nil
	case "postgres":
		st, err := pgstore.Open(context.Background(), l.dsn, pgstore.Options{FastPasswords: l.opts.fastPasswords, MaxConns: 8})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("backend %q", l.backend)
}

// Open returns a fresh, empty store for tb, closed when tb ends.
func Open(tb testing.TB, opts ...Option) store.Store {
	tb.Helper()
	return New(tb, opts...).Open(tb)
}
