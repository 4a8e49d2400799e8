package sqlstore

import (
	"errors"
	"fmt"
	"syscall"

	"modernc.org/sqlite"

	"gannet/internal/store"
)

// sqliteFull is SQLITE_FULL: SQLite's answer when a write finds the disk full
// (it maps ENOSPC to it) or the database at its max_page_count.
const sqliteFull = 13

// storageErr marks an error that a full disk caused with store.ErrStorageFull,
// so that SMTP can say 452 4.3.1 (RFC 3463 3.4, "mail system full") rather
// than report a local error.
func storageErr(err error) error {
	if err == nil || errors.Is(err, store.ErrStorageFull) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqliteFull ||
		errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", store.ErrStorageFull, err)
	}
	return err
}

// FreeBytes is the space left for unprivileged writes on the file system of
// the data directory.
func (s *Store) FreeBytes() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, fmt.Errorf("sqlstore: statfs %s: %w", s.dir, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
