// Package sqlstore is the only package that speaks SQL: it implements store.Store on
// SQLite (modernc.org/sqlite, WAL mode) with message bytes in a blobstore.
//
// Invariants:
//   - Every write runs on the single writer goroutine (writer.go). Concurrent writes
//     are group-committed: one transaction and one WAL fsync for many operations,
//     each operation inside its own SAVEPOINT so that one failure rolls back only
//     that operation. A write call returns only after COMMIT and an fsync of the
//     WAL (walsync.go), so it is durable when it returns.
//   - Message bytes are written and fsynced to the blobstore before the transaction
//     that references them commits; a blob referenced by no row is garbage.
//   - Changes are published to the notify hub only after COMMIT, in commit order.
//   - Reads use a pool of read-only connections and never wait for the writer (WAL).
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"gannet/internal/notify"
	"gannet/internal/store"
	"gannet/internal/store/blobstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune a Store. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// GCGrace is how old an unreferenced blob must be before GC removes it
	// (protects blobs written by deliveries that have not committed yet).
	GCGrace time.Duration
	// Hub receives change notifications; nil creates a private hub.
	Hub *notify.Hub
	// FastPasswords uses cheap argon2id parameters: for tests only.
	FastPasswords bool
	// NoMigrate refuses a database whose schema is not this build's
	// instead of migrating it: for a process that opens a database a
	// server may be serving (gannet migrate), which must not change the
	// schema under a server of an older build.
	NoMigrate bool

	// Tests shrink these to see the WAL start over quickly; zero means the
	// defaults (checkpointEvery, walRestartFrames).
	checkpointEvery  time.Duration
	walRestartFrames int
}

// Store is the SQLite implementation of store.Store.
type Store struct {
	db      *sql.DB    // read pool
	r       *readStmts // prepared statements on the read pool
	wdb     *sql.DB    // one connection, used only by the writer goroutine
	blobs   *blobstore.Store
	hub     *notify.Hub
	log     *slog.Logger
	now     func() time.Time
	gcGrace time.Duration
	fastPw  bool
	w       *writer
	dir     string
	// deliverHook, when set by tests, runs before each recipient of a delivery
	// and can inject a failure.
	deliverHook func(i int) error
	// gcMu is held shared by every write that stores a new blob, from the blob
	// write to its commit, and exclusively by GC while it deletes blob files, so
	// that GC never deletes a blob a committing delivery is about to reference.
	gcMu   sync.RWMutex
	closed atomic.Bool
	auth   *store.AuthCache
	// resolver is Resolve and IsLocalDomain with their caches (store core).
	resolver *store.Resolver
	// bodies recycles the buffers inline messages are decoded into (bodybuf.go).
	bodies bodyPool
	// locks are the store.Locker locks held by this process (locks.go).
	locks memLocks
	// leases are the outbound queue's leases (queuelease.go).
	leases *queueLeases
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the store in dir: dir/gannet.db and dir/blobs.
// Pending migrations are applied.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if err := PrepareDataDir(dir, opts.Logger); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	blobs, err := blobstore.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	path := filepath.Join(dir, "gannet.db")
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	// synchronous=FULL: in WAL mode the WAL is fsynced at every COMMIT, which is what
	// makes "250 after DATA" true; group commit amortises that fsync.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)" +
		"&_pragma=foreign_keys(ON)&_pragma=busy_timeout(10000)"
	// The writer's connection: synchronous=NORMAL because the syncer fsyncs the
	// WAL after each commit itself, off the writer's path (walsync.go), and no
	// automatic checkpoint because the checkpointer runs them in the background.
	// journal_size_limit: when the WAL starts over, a file grown by a burst is
	// cut back to 64 MiB rather than kept at its largest. temp_store=MEMORY: each
	// operation after the first in a batch runs in its own SAVEPOINT (writer.go),
	// whose sub-journal holds the original of every page it changes; past 64 KiB
	// SQLite spills that to a temporary file, two pwrites per page, which under
	// load was about 9% of the server's CPU per message. The sub-journal only
	// lives until its batch commits, so memory holds it as well.
	wdb, err := sql.Open("sqlite", strings.Replace(dsn, "synchronous(FULL)", "synchronous(NORMAL)", 1)+
		"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)&_pragma=temp_store(MEMORY)")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	if opts.NoMigrate {
		err = checkSchema(ctx, wdb)
	} else {
		err = migrate(ctx, wdb, 0)
	}
	if err != nil {
		wdb.Close()
		return nil, err
	}
	// mmap_size: readers map the database file (up to 256 MiB of it) instead
	// of copying each page they miss in their 2 MB page cache with a pread. A
	// POP3 download reads every message of a maildrop once, so it missed on
	// nearly every overflow page: a few preads per message, about 7% of the
	// server's CPU. The mapping shares the kernel's page cache among the
	// readers; pages still in the WAL are read from the WAL as before. (An I/O
	// error on a mapped page is a fault rather than an error return: SQLite's
	// documented trade-off, acceptable on a local disk, where a read error
	// means a failing disk anyway.)
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(ON)&_pragma=mmap_size(268435456)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(8)
	rdb.SetMaxIdleConns(8)
	s := &Store{
		db:      rdb,
		r:       newReadStmts(rdb),
		wdb:     wdb,
		blobs:   blobs,
		hub:     opts.Hub,
		log:     opts.Logger,
		now:     opts.Now,
		gcGrace: opts.GCGrace,
		fastPw:  opts.FastPasswords,
		dir:     dir,
		leases:  newQueueLeases(),
	}
	if s.hub == nil {
		s.hub = notify.New()
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.gcGrace == 0 {
		s.gcGrace = time.Hour
	}
	s.auth = store.NewAuthCache(s.now)
	s.resolver = store.NewResolver(directory{s})
	cdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		rdb.Close()
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	cdb.SetMaxOpenConns(1)
	if s.w, err = newWriter(ctx, wdb, cdb, path, s.hub, s.log, opts); err != nil {
		cdb.Close()
		rdb.Close()
		wdb.Close()
		return nil, err
	}
	return s, nil
}

// alive returns store.ErrClosed once Close has been called.
func (s *Store) alive() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

// SetGCGrace changes the GC grace period (the contract suite uses 0-ish values).
func (s *Store) SetGCGrace(d time.Duration) { s.gcGrace = d }

// Hub returns the change feed hub.
func (s *Store) Hub() *notify.Hub { return s.hub }

// IntegrityCheck runs PRAGMA integrity_check and returns its verdict ("ok" when sound).
func (s *Store) IntegrityCheck(ctx context.Context) (string, error) {
	var res string
	err := s.r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res)
	return res, err
}

// Close stops the writer after pending writes and closes the databases.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.locks.close()
	s.w.close()
	s.r.close()
	err1 := s.db.Close()
	err2 := s.wdb.Close()
	return errors.Join(err1, err2)
}

// Subscribe implements store.Store.
func (s *Store) Subscribe(accountID int64) store.Subscription { return s.hub.Subscribe(accountID) }

// migrate applies embedded migrations in order, tracked by PRAGMA user_version,
// up to version upTo (0 = all of them).
func migrate(ctx context.Context, db *sql.DB, upTo int) error {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: bad version prefix", e.Name())
		}
		migs = append(migs, mig{v, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	for _, m := range migs {
		if m.version <= current || (upTo > 0 && m.version > upTo) {
			continue
		}
		body, err := migrations.ReadFile("migrations/" + m.name)
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
			tx.Rollback()
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("sqlstore: migration %s: %w", m.name, err)
		}
	}
	return nil
}

// checkSchema fails unless the database's schema is the newest this build
// knows (Options.NoMigrate).
func checkSchema(ctx context.Context, db *sql.DB) error {
	entries, err := migrations.ReadDir("migrations")
	if err != nil {
		return fmt.Errorf("sqlstore: migrations: %w", err)
	}
	latest := 0
	for _, e := range entries {
		if v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0]); err == nil && v > latest {
			latest = v
		}
	}
	var current int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&current); err != nil {
		return fmt.Errorf("sqlstore: read schema version: %w", err)
	}
	if current != latest {
		return fmt.Errorf("sqlstore: schema version %d, this build's is %d: run the server of this build on it first", current, latest)
	}
	return nil
}

// SchemaVersion reports the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// querier is what both *sql.Tx and *sql.DB offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func unix(t time.Time) int64 { return t.Unix() }

func fromUnix(v int64) time.Time { return time.Unix(v, 0).UTC() }
