package sqlstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// Modes of everything under the data directory (issue 13, finding 7): the
// database and its WAL hold password hashes and DKIM private keys.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o600
)

// dbFiles are SQLite's files for the database gannet.db.
var dbFiles = []string{"gannet.db", "gannet.db-wal", "gannet.db-shm", "gannet.db-journal"}

// PrepareDataDir creates the data directory (0700) or makes an existing one
// private. A directory that group or others may enter is tightened to 0700,
// with a warning in the log, when it is empty or holds a Gannet database;
// any other such directory (a shared directory named by mistake, such as
// /var/lib) is refused with an error saying how to fix it, rather than
// changed. A symbolic link is followed: the directory it points to is
// checked and tightened like any other (a link's own mode means nothing on
// Linux). The database files already there are made 0600.
//
// Open calls it, so the server and every admin command do.
func PrepareDataDir(dir string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if lfi, err := os.Lstat(dir); err == nil && lfi.Mode()&fs.ModeSymlink != 0 {
		target, _ := filepath.EvalSymlinks(dir)
		log.Info("data directory is a symbolic link; using the directory it points to", "dir", dir, "target", target)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		ours, err := isDataDir(dir)
		if err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		if !ours {
			return fmt.Errorf("data directory %s is open to group or others (mode %04o) and holds files that are not Gannet's, so it was left alone; "+
				"use a directory of its own, or make this one private with: chmod 700 %s", dir, perm, dir)
		}
		if err := os.Chmod(dir, dirMode); err != nil {
			return fmt.Errorf("data directory %s is open to group or others (mode %04o) and could not be made private (%w); fix it with: chmod 700 %s",
				dir, perm, err, dir)
		}
		log.Warn("data directory was open to group or others; made private", "dir", dir, "was", fmt.Sprintf("%04o", perm), "now", fmt.Sprintf("%04o", dirMode))
	}
	for _, name := range dbFiles {
		if err := tighten(filepath.Join(dir, name), fileMode, log); err != nil {
			return err
		}
	}
	return nil
}

// isDataDir reports whether dir is empty or holds a Gannet database.
func isDataDir(dir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dir, "gannet.db")); err == nil {
		return true, nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return len(names) == 0, nil
	}
	return false, err
}

// tighten sets path's permission bits to mode when they allow more; a
// missing file is fine.
func tighten(path string, mode fs.FileMode, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&^mode == 0 {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	log.Warn("file was open to group or others; made private", "file", path, "was", fmt.Sprintf("%04o", fi.Mode().Perm()))
	return nil
}

// createPrivate creates path with mode 0600 if it does not exist. SQLite
// creates the database with 0644 (less the umask) and gives its -wal and
// -shm files the database file's mode, so creating the (empty) database
// file first makes all three private.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}
