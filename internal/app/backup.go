package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"gannet/internal/backup"
	"gannet/internal/config"
	"gannet/internal/store"
	"gannet/internal/store/pgstore"
	"gannet/internal/store/sqlstore"
)

// Backups, restore and verification (docs/ARCHITECTURE.md, "Backups").
// internal/backup does the files; the database copy and the verification
// are the backend's, reached here, the one place that names a backend.

// ErrPostgresBackup: a PostgreSQL store is backed up with PostgreSQL's own
// tools, not `gannet backup`.
var ErrPostgresBackup = errors.New("the store is PostgreSQL: back it up with pg_dump or a base backup (pg_basebackup), " +
	"plus the object store when blobs = \"s3://...\" is set (README, \"Backups\")")

// sqliteSource is a SQLite data directory as a backup.Source.
type sqliteSource struct{ dir string }

func (s sqliteSource) CopyDatabase(ctx context.Context, path string, blob func(string) error) (backup.Database, error) {
	c, err := sqlstore.CopyDatabase(ctx, s.dir, path, blob)
	return backup.Database{Blobs: c.Blobs, Accounts: c.Accounts, Mailboxes: c.Mailboxes, Messages: c.Messages,
		MessageBytes: c.MessageBytes, Bytes: c.Bytes}, err
}

func (s sqliteSource) BlobDir() string { return sqlstore.BlobDir(s.dir) }

// BackupSource is the install cfg names, to back up: SQLite only.
func BackupSource(cfg *config.Config) (backup.Source, error) {
	loc, err := cfg.StoreLocation()
	if err != nil {
		return nil, err
	}
	if loc.Backend != config.StoreSQLite {
		return nil, ErrPostgresBackup
	}
	return sqliteSource{dir: loc.Dir}, nil
}

// verifier is a backend that checks its own data (PostgreSQL); SQLite's
// check works on a data directory without opening a store (sqlstore.Verify).
type verifier interface {
	Verify(ctx context.Context, problem func(string)) (store.VerifyStats, error)
}

var _ verifier = (*pgstore.Store)(nil)

// Verify checks the store cfg names and reports each problem (`gannet
// verify`); it changes nothing. The error says the check could not run.
func Verify(ctx context.Context, cfg *config.Config, problem func(string)) (store.VerifyStats, error) {
	loc, err := cfg.StoreLocation()
	if err != nil {
		return store.VerifyStats{}, err
	}
	if loc.Backend == config.StoreSQLite {
		return sqlstore.Verify(ctx, loc.Dir, problem)
	}
	st, err := openBackend(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return store.VerifyStats{}, err
	}
	defer st.Close()
	v, ok := st.(verifier)
	if !ok {
		return store.VerifyStats{}, fmt.Errorf("verify does not support this store (%s) yet", loc.Backend)
	}
	return v.Verify(ctx, problem)
}

// backupStats are the scheduled backups' outcome, for /metrics.
type backupStats struct {
	lastSuccess atomic.Int64 // unix seconds; 0 = none yet
	lastSize    atomic.Int64 // bytes of the last successful snapshot
	failures    atomic.Int64
}

// scheduleBackups takes a backup into [backup] dir every interval until ctx
// ends (config key backup). The schedule follows the newest snapshot in
// dir, not the server's start: a server restarted more often than the
// interval still backs up, and one restarting in a loop does not back up
// in a loop.
func (a *App) scheduleBackups(ctx context.Context) {
	b := a.Config.Backup
	if b.Dir == "" {
		return
	}
	src, err := BackupSource(a.Config)
	if err != nil {
		a.Log.Warn("scheduled backups are off", "err", err)
		return
	}
	// The metrics start from the newest snapshot already there, so that a
	// restart does not look like a missed backup.
	if snaps, err := backup.Snapshots(b.Dir); err == nil && len(snaps) > 0 {
		last := snaps[len(snaps)-1]
		a.backups.lastSuccess.Store(last.Finished.Unix())
		a.backups.lastSize.Store(last.Size())
	}
	for sleepCtx(ctx, nextBackup(b, time.Now())) {
		a.backupOnce(ctx, src, b)
	}
}

// firstBackupDelay is the least time between start and a backup, so that
// a backup never slows the start itself.
const firstBackupDelay = time.Minute

// nextBackup is how long to wait for the next backup: one interval after
// the newest complete snapshot in b.Dir, at least firstBackupDelay from now.
func nextBackup(b config.Backup, now time.Time) time.Duration {
	wait := firstBackupDelay
	if snaps, err := backup.Snapshots(b.Dir); err == nil && len(snaps) > 0 {
		wait = max(wait, snaps[len(snaps)-1].Finished.Add(b.Interval.Duration).Sub(now))
	}
	return wait
}

// backupOnce takes one scheduled backup and logs its outcome.
func (a *App) backupOnce(ctx context.Context, src backup.Source, b config.Backup) {
	start := time.Now()
	m, err := backup.Run(ctx, src, b.Dir, backup.Options{Keep: b.Keep, Log: a.Log})
	if err != nil {
		a.backups.failures.Add(1)
		a.Log.Error("backup failed", "dir", b.Dir, "err", err)
		return
	}
	a.backups.lastSuccess.Store(m.Finished.Unix())
	a.backups.lastSize.Store(m.Size())
	a.Log.Info("backup taken", "dir", b.Dir, "snapshot", m.Name, "messages", m.Messages, "bytes", m.Size(),
		"copied_files", m.Copied, "took", time.Since(start).Round(time.Millisecond))
}
