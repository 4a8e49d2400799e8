package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"gannet/internal/app"
	"gannet/internal/backup"
	"gannet/internal/config"
)

const backupHelp = `Backs up a SQLite install while the server keeps serving: a consistent
copy of the database (every message accepted before the backup started is
in it) as a dated snapshot in DIR/snapshots, plus the message files in
DIR/blobs. Message files never change, so a later backup into the same DIR
copies only new ones; snapshots beyond --keep, and files only they needed,
are removed. A snapshot counts only once its manifest.json is written, after
everything else is on disk. Restore with: gannet restore DIR --data NEWDIR.

PostgreSQL stores are backed up with pg_dump or base backups (README).
`

// cmdBackup takes a backup of the install of --config (or --data) into DIR.
func cmdBackup(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "backup", "DIR")
	keep := fs.Int("keep", 7, "how many snapshots to keep in DIR (at least 1)")
	af := addAdminFlags(fs)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(e.stderr, "\n"+backupHelp)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	if *keep < 1 {
		return fmt.Errorf("--keep: want at least 1")
	}
	cfg, err := af.load()
	if err != nil {
		return err
	}
	src, err := app.BackupSource(cfg)
	if err != nil {
		return err
	}
	start := time.Now()
	// Progress (database copied, old snapshots removed) on stderr.
	log := slog.New(slog.NewTextHandler(e.stderr, nil))
	m, err := backup.Run(ctx, src, pos[0], backup.Options{Keep: *keep, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backup %s complete in %s: %d accounts, %d mailboxes, %d messages; database %d bytes, %d message files (%d bytes), %d new (%d bytes) copied\n",
		m.Name, time.Since(start).Round(time.Millisecond), m.Accounts, m.Mailboxes, m.Messages, m.DatabaseBytes, m.Blobs, m.BlobBytes, m.Copied, m.CopiedBytes)
	return nil
}

// cmdRestore writes a snapshot of a backup into a new data directory and
// verifies it.
func cmdRestore(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "restore", "DIR --data NEWDIR")
	data := fs.String("data", "", "the new data directory (must not exist or be empty)")
	snap := fs.String("snapshot", "", "the snapshot to restore (a name under DIR/snapshots; default the newest)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *data == "" {
		fs.Usage()
		return errUsage
	}
	m, err := backup.Restore(ctx, pos[0], *data, *snap)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "restored snapshot %s (taken %s) into %s; verifying\n", m.Name, m.Started.Format(time.RFC3339), *data)
	cfg := config.Default()
	cfg.DataDir = *data
	return verifyAndReport(ctx, e, cfg)
}
