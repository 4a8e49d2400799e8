// Package pgstore implements store.Store on PostgreSQL (pgx v5), for Gannet
// running as several nodes on one database (docs/ARCHITECTURE.md, "Several
// nodes"). Everything a second node must see lives in the database: accounts,
// mailboxes, messages and their bytes (chunked, compressed, deduplicated by
// hash), the outbound queue, DKIM keys, the revocation feed.
//
// Invariants (the same as sqlstore's, kept by the database rather than by a
// single writer goroutine):
//   - A write returns only after COMMIT, and PostgreSQL's COMMIT returns only
//     once the WAL is flushed (synchronous_commit on); concurrent commits
//     share a WAL flush, PostgreSQL's own group commit.
//   - Writes to one account are serialised by the account row's lock, taken
//     first by bumping accounts.modseq (tx.go): MODSEQs and UIDs are handed
//     out in commit order and quota checks are exact.
//   - Changes are published after COMMIT: to this node's hub directly, and to
//     the other nodes by NOTIFY, which PostgreSQL delivers only on commit
//     (feed.go).
//   - Ids come from sequences and are never reused.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"gannet/internal/notify"
	"gannet/internal/store"
	"gannet/internal/store/blobstore"
	"gannet/internal/store/s3blob"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// GCGrace is how old an unreferenced body must be before GC removes it
	// (protects bodies written by deliveries that have not committed yet).
	GCGrace time.Duration
	// Hub receives change notifications; nil creates a private hub.
	Hub *notify.Hub
	// FastPasswords uses cheap argon2id parameters: for tests only.
	FastPasswords bool
	// Node names this node (config key node_name) in logs and queue
	// leases; empty means the host name. The change feed tells nodes apart
	// by a random instance id instead, so that two nodes given one name by
	// mistake still hear each other.
	Node string
	// MaxConns bounds the connection pool (0 = 32).
	MaxConns int32
	// Objects keeps new message bodies in an S3-compatible object store
	// (config key `blobs`, objects.go) instead of in the database; nil =
	// in the database. Bodies stored either way stay readable as long as
	// the object store they went to is configured.
	Objects *s3blob.Client
	// Import opens the target of an unfinished move from another backend
	// (`gannet migrate`, import.go); without it such a database is
	// refused, so that no server or admin command works on it before the
	// move's last pass.
	Import bool
}

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool    *pgxpool.Pool
	hub     *notify.Hub
	log     *slog.Logger
	now     func() time.Time
	gcGrace time.Duration
	fastPw  bool
	node    string
	// instance identifies this Store in the change feed: node name, pid
	// and a random suffix, unique among live processes.
	instance string
	dsn      string

	// auth caches recent logins (store.AuthCache: keyed with the password
	// hash read at each login, so another node's change misses at once).
	auth *store.AuthCache
	// dir answers Resolve and IsLocalDomain through the core's caches;
	// invalidated after every local directory write, other nodes' writes
	// seen within store.DomainTTL and store.ResolveTTL (directory.go).
	dir *store.Resolver
	// queueZstd compresses queued messages in the blob format's frames, as
	// sqlstore keeps its own (blobstore.Codec; message bodies have their
	// own chunk codec, bodies.go).
	queueZstd *blobstore.Codec

	// locks are the store.Locker locks held by this node (locks.go).
	locks lockTable
	codec *codec // message body chunks (bodies.go)
	// objects holds new bodies' chunks when set (objects.go);
	// objectGrace and lastSweep pace the sweep of unreferenced objects.
	objects     *s3blob.Client
	objectGrace time.Duration
	lastSweep   atomic.Int64 // UnixNano of the last sweep on this node; 0 = none yet
	pub         pubOrder     // publish in commit order (tx.go)

	// comb group-commits concurrent deliveries (deliver.go).
	comb combiner

	closed   atomic.Bool
	stopFeed context.CancelFunc
	feedDone chan struct{}
	closeMu  sync.Mutex
}

// Open connects to the database named by dsn (a postgres:// URL), applies
// pending schema migrations under an advisory lock, and starts listening
// for the other nodes' changes.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if opts.Objects != nil {
		if err := opts.Objects.Check(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("pgstore: object store: %w", err)
		}
	}
	if !opts.Import {
		if err := refuseUnfinishedImport(ctx, pool); err != nil {
			pool.Close()
			return nil, err
		}
	}
	cd, err := newCodec()
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{
		pool:        pool,
		hub:         opts.Hub,
		log:         opts.Logger,
		now:         opts.Now,
		gcGrace:     opts.GCGrace,
		fastPw:      opts.FastPasswords,
		node:        opts.Node,
		dsn:         dsn,
		codec:       cd,
		objects:     opts.Objects,
		objectGrace: objectGrace,
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
	if s.node == "" {
		s.node, _ = os.Hostname()
	}
	s.instance = instanceID(s.node)
	s.auth = store.NewAuthCache(s.now)
	s.dir = store.NewResolver(directory{s})
	if s.queueZstd, err = blobstore.NewCodec(); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.startFeed(ctx); err != nil {
		s.queueZstd.Close()
		pool.Close()
		return nil, err
	}
	return s, nil
}

// instanceID is a name unique to this process: node name, pid and a random
// suffix (a restarted node must not be taken for its previous life).
func instanceID(node string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", node, os.Getpid(), hex.EncodeToString(b[:]))
}

var _ store.Store = (*Store)(nil)

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

// Node is this node's name.
func (s *Store) Node() string { return s.node }

// Subscribe implements store.Store.
func (s *Store) Subscribe(accountID int64) store.Subscription { return s.hub.Subscribe(accountID) }

// Close stops the feed listener and closes the pool. Safe to call twice.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	s.locks.close()
	s.stopFeed()
	<-s.feedDone
	s.pool.Close()
	s.queueZstd.Close()
	_ = s.codec.enc.Close()
	s.codec.dec.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.pool.Ping(ctx)
}

func unix(t time.Time) int64 { return t.Unix() }

func fromUnix(v int64) time.Time { return time.Unix(v, 0).UTC() }
