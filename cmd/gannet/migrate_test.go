package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gannet/internal/store"
	"gannet/internal/store/pgstore/pgtest"
)

// TestMigrateCommand: `gannet migrate` moves a SQLite install to a real
// PostgreSQL (a cluster of this test's own: the other tests of the package
// need none), then --finish, after which the admin commands read the same
// accounts and mail from PostgreSQL through the config key store.
func TestMigrateCommand(t *testing.T) {
	cl, err := pgtest.StartOrShared(t.Context(), pgtest.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Stop() })
	url := cl.NewDatabase(t)

	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "", "domain", "add", "--data", data, "example.org")
	mustRun(t, "pw\n", "user", "add", "--data", data, "alice@example.org")
	st := openData(t, data)
	a, err := st.Account(context.Background(), "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Deliver(context.Background(), store.Delivery{Raw: []byte("Subject: hi\r\n\r\nhello\r\n"),
		Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	_, _, errs := gannet(t, "", "migrate", "--to", url, "--data", data)
	if !strings.Contains(errs, "pass 1: 1 accounts changed, 1 messages") || !strings.Contains(errs, "--finish") {
		t.Fatalf("migrate output %q", errs)
	}
	cfg := filepath.Join(dir, "gannet.toml")
	toml := "hostname = \"mail.example.org\"\ndata_dir = \"" + filepath.Join(dir, "unused") + "\"\nstore = \"" + url + "\"\n"
	if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	// Before --finish the database is refused to everything else.
	if code, _, errs := gannet(t, "", "user", "list", "--config", cfg); code == 0 || !strings.Contains(errs, "unfinished move") {
		t.Errorf("user list during the move: exit %d, %q", code, errs)
	}
	if code, _, errs := gannet(t, "", "migrate", "--to", url, "--data", data, "--finish"); code != 0 || !strings.Contains(errs, "done:") {
		t.Fatalf("migrate --finish: exit %d, %q", code, errs)
	}
	if out := mustRun(t, "", "user", "list", "--config", cfg); !strings.Contains(out, "alice@example.org") {
		t.Fatalf("user list on postgres = %q", out)
	}
	// Moving again into the finished database is refused; so is a source
	// that is not SQLite, and a command without --to.
	if code, _, errs := gannet(t, "", "migrate", "--to", url, "--data", data); code == 0 || !strings.Contains(errs, "already holds accounts") {
		t.Errorf("migrate into a finished target: exit %d, %q", code, errs)
	}
	if code, _, errs := gannet(t, "", "migrate", "--to", url, "--config", cfg); code == 0 || !strings.Contains(errs, "not SQLite") {
		t.Errorf("migrate from postgres: exit %d, %q", code, errs)
	}
	if code, _, errs := gannet(t, "", "migrate", "--data", data); code == 0 || !strings.Contains(errs, "--finish") {
		t.Errorf("migrate without --to: exit %d, %q", code, errs)
	}
	empty := filepath.Join(dir, "nothing")
	if code, _, errs := gannet(t, "", "migrate", "--to", url, "--data", empty); code == 0 || !strings.Contains(errs, "no SQLite install") {
		t.Errorf("migrate from an empty directory: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(empty); err == nil {
		t.Error("migrate created the data directory it was given")
	}
	if code, _, errs := gannet(t, "", "migrate", "-h"); code != 0 || !strings.Contains(errs, "stop the server") {
		t.Errorf("migrate -h: exit %d, %q", code, errs)
	}
}
