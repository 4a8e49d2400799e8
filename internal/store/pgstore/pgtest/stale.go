package pgtest

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// dirPattern names cluster directories in the temp directory.
const dirPattern = "gannet-pg-"

// staleAge is how old a directory without a live server must be before it is
// removed: far longer than initdb takes, so a cluster being created by another test
// binary (no postmaster.pid yet) is never taken for a leftover.
const staleAge = 10 * time.Minute

// removeStale removes cluster directories in tmp left by test binaries that were
// killed (the parent-death signal ends their server, but nothing removes the
// directory, some 40 MB each). A directory is kept while the pid in its
// postmaster.pid may be alive (kill(2) says anything but ESRCH), so a running
// cluster of another test binary, another user's included, is never touched.
func removeStale(tmp string, now time.Time) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, dirPattern+"*"))
	for _, d := range dirs {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || now.Sub(fi.ModTime()) < staleAge {
			continue
		}
		if pid := postmasterPID(filepath.Join(d, "data", "postmaster.pid")); pid > 0 &&
			!errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		_ = os.RemoveAll(d)
	}
}

// postmasterPID reads the first line of postmaster.pid: 0 when there is none.
func postmasterPID(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	pid, _ := strconv.Atoi(sc.Text())
	return pid
}
