package runas

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// PrepareDir makes sure dir exists and belongs to id, before Switch. A
// missing dir is created (mode 0700) and given to id; an existing one must
// already be id's, since handing over a directory that someone else owns
// could hand over files that are not Gannet's.
func PrepareDir(dir string, id *Identity) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
		if err := os.Chown(dir, id.UID, id.GID); err != nil {
			return fmt.Errorf("data_dir: %w", err)
		}
	}
	return CheckDir(dir, id)
}

// CheckDir checks that dir is a directory owned by id.
func CheckDir(dir string, id *Identity) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok {
		return fmt.Errorf("data_dir %s is not a directory", dir)
	}
	if int(st.Uid) != id.UID {
		return fmt.Errorf("data_dir %s belongs to uid %d, not to user %q (uid %d): chown -R %s: %s",
			dir, st.Uid, id.Name, id.UID, id.Name, dir)
	}
	return nil
}

// Switch gives up root for id in every thread of the process: groups first,
// then the gid, then the uid (after which the others could not be changed).
func Switch(id *Identity) error {
	if err := syscall.Setgroups(id.Groups); err != nil {
		return fmt.Errorf("setgroups for %q: %w", id.Name, err)
	}
	if err := syscall.Setgid(id.GID); err != nil {
		return fmt.Errorf("setgid %d for %q: %w", id.GID, id.Name, err)
	}
	if err := syscall.Setuid(id.UID); err != nil {
		return fmt.Errorf("setuid %d for %q: %w", id.UID, id.Name, err)
	}
	if os.Getuid() != id.UID || os.Geteuid() != id.UID || os.Getgid() != id.GID || os.Getegid() != id.GID {
		return fmt.Errorf("switch to %q did not take: uid %d/%d gid %d/%d", id.Name, os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	if id.UID != 0 && syscall.Setuid(0) == nil {
		return fmt.Errorf("switch to %q: root could be regained", id.Name)
	}
	return nil
}
