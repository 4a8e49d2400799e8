package pgtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestRemoveStale: old directories without a live server go; a young one (initdb
// may be running) and one whose server is alive stay.
func TestRemoveStale(t *testing.T) {
	tmp := t.TempDir()
	old := time.Now().Add(-time.Hour)
	mk := func(name, pid string, mtime time.Time) string {
		d := filepath.Join(tmp, name)
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		if pid != "" {
			if err := os.WriteFile(filepath.Join(d, "data", "postmaster.pid"), []byte(pid+"\n/x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chtimes(d, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// A pid above the kernel's maximum (4194304) cannot exist.
	dead := mk(dirPattern+"dead", "99999999", old)
	nopid := mk(dirPattern+"nopid", "", old)
	young := mk(dirPattern+"young", "", time.Now())
	alive := mk(dirPattern+"alive", strconv.Itoa(os.Getpid()), old)
	other := mk("other-dir", "", old)
	removeStale(tmp, time.Now())
	for d, keep := range map[string]bool{dead: false, nopid: false, young: true, alive: true, other: true} {
		_, err := os.Stat(d)
		if exists := err == nil; exists != keep {
			t.Errorf("%s: exists %v, want %v", filepath.Base(d), exists, keep)
		}
	}
}
