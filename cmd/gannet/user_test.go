package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gannet/internal/store"
)

// TestUserDisableEnable: `gannet user disable` stops logins, list shows the
// state, `gannet user enable` restores them.
func TestUserDisableEnable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", dir, "example.org")
	mustRun(t, "pw\n", "user", "add", "--data", dir, "alice@example.org")
	if out := mustRun(t, "", "user", "disable", "--data", dir, "Alice@example.org"); !strings.Contains(out, "disabled") {
		t.Fatalf("user disable = %q", out)
	}
	if out := mustRun(t, "", "user", "list", "--data", dir); !strings.Contains(out, "alice@example.org\t") || !strings.HasSuffix(out, "\tdisabled\n") {
		t.Fatalf("user list after disable = %q", out)
	}
	login := func() error {
		ctx := context.Background()
		st := openData(t, dir)
		defer st.Close()
		_, err := st.Authenticate(ctx, "alice@example.org", "pw")
		return err
	}
	if err := login(); !errors.Is(err, store.ErrAuthFailed) {
		t.Fatalf("login of a disabled account: %v, want ErrAuthFailed", err)
	}
	mustRun(t, "", "user", "enable", "--data", dir, "alice@example.org")
	if out := mustRun(t, "", "user", "list", "--data", dir); !strings.HasSuffix(out, "\tenabled\n") {
		t.Fatalf("user list after enable = %q", out)
	}
	if err := login(); err != nil {
		t.Fatalf("login after enable: %v", err)
	}
	for _, verb := range []string{"disable", "enable"} {
		if code, _, _ := gannet(t, "", "user", verb, "-h"); code != 0 {
			t.Fatalf("user %s -h: exit %d", verb, code)
		}
		if code, _, errs := gannet(t, "", "user", verb, "--data", dir, "nobody@example.org"); code == 0 || !strings.Contains(errs, "not found") {
			t.Fatalf("user %s of an unknown account: exit %d, %q", verb, code, errs)
		}
	}
}

// TestAdminFollowsStoreKey: admin commands open the store the config's key
// `store` names, as the server does: a postgres:// store is PostgreSQL (here
// one that does not answer; never served from data_dir instead), an unknown
// scheme is refused by the config check.
func TestAdminFollowsStoreKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct{ store, want string }{
		{"postgres://gannet@127.0.0.1:1/gannet?connect_timeout=5", "pgstore: connect"},
		{"mysql://root@127.0.0.1/gannet", "config: store:"},
	} {
		cfg := filepath.Join(dir, "gannet.toml")
		toml := "hostname = \"mail.example.org\"\ndata_dir = \"" + filepath.Join(dir, "data") + "\"\nstore = \"" + c.store + "\"\n"
		if err := os.WriteFile(cfg, []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := gannet(t, "", "user", "list", "--config", cfg); code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("store = %q: exit %d, stderr %q, want %q", c.store, code, errs, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("data_dir was created for a store elsewhere")
	}
}
