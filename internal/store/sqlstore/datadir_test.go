package sqlstore

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gannet/internal/store"
)

// TestDataDirModes opens a store in a data directory made beforehand with
// mode 0755, under a umask of 022 (what `mkdir` and most services give),
// writes to it, and checks that every directory under it is 0700 and every
// file 0600: the database and its WAL hold password hashes and DKIM keys
// (issue 13, finding 7: gannet.db was 0644 in a 0755 directory). Checked to
// fail without the fix.
//
// Not parallel: the umask belongs to the whole process, and parallel tests
// start only after the sequential ones.
func TestDataDirModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	// Big enough for a blob file, not inline.
	big := append(testMessage("big"), strings.Repeat("x", inlineMax+1)...)
	if _, err := s.Deliver(ctx, store.Delivery{Raw: big, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, dir)
	for _, name := range []string{"gannet.db", "gannet.db-wal", "gannet.db-shm"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v (the test expects SQLite's WAL files)", name, err)
		}
	}
}

// checkPrivate fails the test for any directory under dir (dir included)
// that is not 0700 and any file that is not 0600.
func checkPrivate(t *testing.T, dir string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("only %d files under %s", files, dir)
	}
}

// TestDataDirTightened: a data directory and database left open by an older
// version are made private when the store opens.
func TestDataDirTightened(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for path, mode := range map[string]fs.FileMode{dir: 0o755, filepath.Join(dir, "blobs"): 0o755, filepath.Join(dir, "gannet.db"): 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkPrivate(t, dir)
}

// TestDataDirNotOurs: a group/world-readable directory with other files in
// it (a shared directory named by mistake) is refused, with the fix in the
// message, and left as it was.
func TestDataDirNotOurs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Fatalf("Open of a shared directory: %v, want a refusal saying chmod 700", err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
		t.Fatalf("refused directory's mode changed to %04o", fi.Mode().Perm())
	}
	// Once private, it is accepted.
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// TestDataDirSymlink: a data directory given as a symbolic link is
// followed, and the directory it points to is made private.
func TestDataDirSymlink(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	target := filepath.Join(base, "real")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(target, "gannet.db")); err != nil {
		t.Fatalf("database not in the link's target: %v", err)
	}
	checkPrivate(t, target)
}
