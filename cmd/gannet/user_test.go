package main

import (
	"context"
	"errors"
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
