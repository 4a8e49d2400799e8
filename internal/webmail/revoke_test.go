package webmail

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/testopen"
)

// newEnvIn is newEnv over a store at loc, so that a test can open a second
// store on the same location: another process, such as `gannet user del`
// beside the running server.
func newEnvIn(t *testing.T, loc *testopen.Location) *env {
	t.Helper()
	st := loc.Open(t)
	srv := New(Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &env{t: t, st: st, srv: srv, base: "http://" + ln.Addr().String()}
}

func otherProcess(t *testing.T, loc *testopen.Location) store.Store {
	t.Helper()
	return loc.Open(t)
}

// TestSessionOfDeletedAccount: a webmail cookie of an account deleted by
// another process, after which a new account is created, is refused (401).
// Before the fix the new account took the deleted one's id and the old
// cookie read and sent as the new account (issue 13, finding 1). Checked to
// fail without the fix.
func TestSessionOfDeletedAccount(t *testing.T) {
	t.Parallel()
	dir := testopen.New(t, testopen.FastPasswords)
	e := newEnvIn(t, dir)
	alice := e.account("alice@example.org")
	c := e.login("alice@example.org")
	if st := c.json("GET", "/api/session", nil, nil); st != 200 {
		t.Fatalf("session before delete: %d", st)
	}
	admin := otherProcess(t, dir)
	if err := admin.DeleteAccount(t.Context(), "alice@example.org"); err != nil {
		t.Fatal(err)
	}
	mallory, err := admin.AddAccount(t.Context(), "mallory@example.org", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if mallory.ID == alice.ID {
		t.Errorf("new account got the deleted account's id %d", alice.ID)
	}
	for _, path := range []string{"/api/session", "/api/mailboxes", "/api/identities"} {
		if st := c.json("GET", path, nil, nil); st != http.StatusUnauthorized {
			t.Errorf("GET %s with the deleted account's cookie: %d, want 401", path, st)
		}
	}
}

// TestSessionAfterPasswordChangeOrDisable: a password change or a disable
// by another process ends the session at the next request; a disabled
// account cannot log in.
func TestSessionAfterPasswordChangeOrDisable(t *testing.T) {
	t.Parallel()
	dir := testopen.New(t, testopen.FastPasswords)
	e := newEnvIn(t, dir)
	e.account("alice@example.org")
	e.account("bob@example.org")
	admin := otherProcess(t, dir)
	ca := e.login("alice@example.org")
	cb := e.login("bob@example.org")

	if err := admin.SetPassword(t.Context(), "alice@example.org", "new"); err != nil {
		t.Fatal(err)
	}
	if st := ca.json("GET", "/api/mailboxes", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("session after a password change: %d, want 401", st)
	}
	if st := cb.json("GET", "/api/mailboxes", nil, nil); st != 200 {
		t.Errorf("another account's session: %d, want 200", st)
	}
	if err := admin.SetDisabled(t.Context(), "bob@example.org", true); err != nil {
		t.Fatal(err)
	}
	if st := cb.json("GET", "/api/mailboxes", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("session of a disabled account: %d, want 401", st)
	}
	if st := e.client().json("POST", "/api/login", loginRequest{Address: "bob@example.org", Password: "pw-bob@example.org"}, nil); st != http.StatusUnauthorized {
		t.Errorf("login of a disabled account: %d, want 401", st)
	}
}

// TestEndAccount: EndAccount drops the account's sessions and ends their
// event streams with "bye", and no other account's.
func TestEndAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	e.account("bob@example.org")
	c1 := e.login("alice@example.org")
	c2 := e.login("alice@example.org")
	cb := e.login("bob@example.org")
	ev := c1.events()
	if name, _ := ev.next(); name != "hello" {
		t.Fatalf("first event %q, want hello", name)
	}
	if n := e.srv.EndAccount(alice.ID); n != 2 {
		t.Fatalf("EndAccount = %d, want 2", n)
	}
	done := make(chan string, 1)
	go func() { // no t.Fatal off the test goroutine: report what was read
		for {
			line, err := ev.r.ReadString('\n')
			if err != nil {
				done <- "(stream closed: " + err.Error() + ")"
				return
			}
			if name, ok := strings.CutPrefix(line, "event: "); ok {
				done <- strings.TrimSpace(name)
				return
			}
		}
	}()
	select {
	case name := <-done:
		if name != "bye" {
			t.Fatalf("event after EndAccount %q, want bye", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("event stream still open 5 s after EndAccount")
	}
	for _, c := range []*client{c1, c2} {
		if st := c.json("GET", "/api/session", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("session after EndAccount: %d, want 401", st)
		}
	}
	if st := cb.json("GET", "/api/session", nil, nil); st != 200 {
		t.Errorf("other account's session after EndAccount: %d", st)
	}
	if n := e.srv.EndAccount(alice.ID); n != 0 {
		t.Errorf("second EndAccount = %d, want 0", n)
	}
}
