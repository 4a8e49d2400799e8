package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneBackupAtATime: a second Run into a directory whose lock is held
// is refused, and the lock goes with its holder.
func TestOneBackupAtATime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := prepare(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prepare(dir); err == nil || !strings.Contains(err.Error(), "another backup is running") {
		t.Fatalf("second lock: %v", err)
	}
	unlock()
	unlock2, err := prepare(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
}

// TestNotABackupDirectory: a directory holding other files is refused,
// and left as it was.
func TestNotABackupDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "photo.jpg"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := prepare(dir); err == nil || !strings.Contains(err.Error(), "neither empty nor a Gannet backup") {
		t.Fatalf("prepare: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("prepare left %d entries", len(ents))
	}
}

// TestBlobList: a list read back must be ids in strictly ascending order;
// anything else is damage, reported with the snapshot, never a path.
func TestBlobList(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	for _, tc := range []struct {
		content string
		ok      bool
	}{
		{"", true},
		{a + "\n" + b + "\n", true},
		{b + "\n" + a + "\n", false},       // out of order
		{a + "\n" + a + "\n", false},       // twice
		{"../../etc/passwd\n", false},      // not an id
		{strings.ToUpper(a) + "\n", false}, // not lower-case hex
		{a + "\n" + b[:63] + "\n", false},  // cut short
	} {
		snap := t.TempDir()
		if err := os.WriteFile(filepath.Join(snap, "blobs.txt"), []byte(tc.content), 0o600); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := eachBlob(snap, func(id string) error { got = append(got, id); return nil })
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.content, err)
		}
		if tc.ok && strings.Join(got, "\n")+"\n" != tc.content && tc.content != "" {
			t.Errorf("%q: read %q", tc.content, got)
		}
	}
}

// TestRestoreRefuses: a backup directory without a complete snapshot, and
// a directory that is no backup, are each an error that says so (a
// non-empty target: internal/app's TestBackupPrune).
func TestRestoreRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := prepare(dir)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := Restore(t.Context(), dir, filepath.Join(t.TempDir(), "new"), ""); err == nil || !strings.Contains(err.Error(), "no complete backup") {
		t.Errorf("empty backup: %v", err)
	}
	if _, err := Restore(t.Context(), t.TempDir(), filepath.Join(t.TempDir(), "new"), ""); err == nil || !strings.Contains(err.Error(), "not a Gannet backup") {
		t.Errorf("not a backup: %v", err)
	}
}
