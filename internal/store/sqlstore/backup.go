package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DatabaseCopy describes a consistent copy of a store's database made by
// CopyDatabase: the blob files it references and what it holds, for a
// backup's manifest (internal/backup).
type DatabaseCopy struct {
	// Blobs counts the message files (dir/blobs) the copy's bodies
	// reference; inline bodies are inside the copy.
	Blobs int64
	// Accounts, Mailboxes and Messages count the copy's rows;
	// MessageBytes sums the messages' sizes.
	Accounts, Mailboxes, Messages, MessageBytes int64
	// Bytes is the size of the database file written.
	Bytes int64
}

// CopyDatabase writes a consistent copy of the database of the store in dir
// to dst, which must not exist, while a server may be writing to it
// (`gannet backup`, docs/ARCHITECTURE.md "Backups"). VACUUM INTO runs as
// one read transaction: in WAL mode that is a snapshot as of one commit, so
// every message committed before the call is in the copy, and the writer is
// never blocked. The copy is then made self-contained (journal_mode DELETE,
// so it needs no -wal file) and fsynced: VACUUM INTO itself writes with
// synchronous=OFF. The blob list is read from the copy, so it names exactly
// the files the copy's bodies need: blob is called with each id, in
// ascending order, and may stop the copy with an error.
func CopyDatabase(ctx context.Context, dir, dst string, blob func(id string) error) (DatabaseCopy, error) {
	var c DatabaseCopy
	src := filepath.Join(dir, "gannet.db")
	// Opening would create a database; a mistyped directory must not get one.
	if _, err := os.Stat(src); err != nil {
		return c, fmt.Errorf("copy database: no Gannet database in %s: %w", dir, err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("copy database: %s exists", dst)
	}
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return c, fmt.Errorf("copy database: %w", err)
	}
	if err := os.Chmod(dst, fileMode); err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	out, err := sql.Open("sqlite", "file:"+dst+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	defer out.Close()
	out.SetMaxOpenConns(1)
	var mode string
	if err := out.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	if err := out.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM accounts), (SELECT count(*) FROM mailboxes),
		(SELECT count(*) FROM messages), (SELECT coalesce(sum(size), 0) FROM messages)`).
		Scan(&c.Accounts, &c.Mailboxes, &c.Messages, &c.MessageBytes); err != nil {
		return c, fmt.Errorf("copy database: count: %w", err)
	}
	rows, err := out.QueryContext(ctx, `SELECT blob FROM bodies WHERE data IS NULL ORDER BY blob`)
	if err != nil {
		return c, fmt.Errorf("copy database: list blobs: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return c, fmt.Errorf("copy database: list blobs: %w", err)
		}
		if err := blob(id); err != nil {
			rows.Close()
			return c, err
		}
		c.Blobs++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return c, fmt.Errorf("copy database: list blobs: %w", err)
	}
	if err := out.Close(); err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	f, err := os.Open(dst)
	if err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return c, fmt.Errorf("copy database: fsync %s: %w", dst, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return c, fmt.Errorf("copy database: %w", err)
	}
	c.Bytes = fi.Size()
	return c, nil
}

// BlobDir is where the store in dir keeps its message files (blobstore's
// layout: id "abcd…" at BlobDir/ab/abcd…).
func BlobDir(dir string) string { return filepath.Join(dir, "blobs") }
