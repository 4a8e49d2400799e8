package runas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	me := &Identity{Name: "me", UID: os.Getuid(), GID: os.Getgid()}
	if err := CheckDir(dir, me); err != nil {
		t.Errorf("own dir: %v", err)
	}
	other := &Identity{Name: "other", UID: os.Getuid() + 1}
	if err := CheckDir(dir, other); err == nil || !strings.Contains(err.Error(), "chown -R other") {
		t.Errorf("someone else's dir: %v", err)
	}
	f := filepath.Join(dir, "file")
	os.WriteFile(f, nil, 0o600)
	if err := CheckDir(f, me); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file: %v", err)
	}
	// PrepareDir creates a missing directory, 0700, as the user's.
	sub := filepath.Join(dir, "a", "data")
	if err := PrepareDir(sub, me); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(sub); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created %v, %v", fi, err)
	}
	if err := PrepareDir(dir, other); err == nil {
		t.Error("PrepareDir accepted someone else's directory")
	}
}
