package webmail

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// syncBuffer is a log sink shared by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.WriteString(string(p))
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loggedEnv is a webmail server on a real listener whose log the test reads.
func loggedEnv(t *testing.T, lim *authlimit.Limiter) (*env, *syncBuffer, store.Store) {
	t.Helper()
	st := testopen.Open(t, testopen.FastPasswords)
	logs := &syncBuffer{}
	srv := New(Options{Store: st, Limiter: lim, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
	})
	return &env{t: t, st: st, srv: srv, base: "http://" + ln.Addr().String()}, logs, st
}

// TestFailedLoginNameNotLogged (issue 13 finding 9): the address of a
// failed or refused webmail login (often a password typed into the wrong
// field) is not logged, a keyed hash is; a good login logs its account.
func TestFailedLoginNameNotLogged(t *testing.T) {
	t.Parallel()
	e, logs, _ := loggedEnv(t, authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond}))
	e.account("alice@example.org")
	e.login("alice@example.org")
	if !strings.Contains(logs.String(), "login.outcome=ok login.account=alice@example.org") {
		t.Errorf("good login not logged with its account:\n%s", logs.String())
	}
	c := e.client()
	const typed = "tr0ub4dor-typed-as-address"
	for i := range 3 {
		if st, _, _ := c.do("POST", "/api/login", strings.NewReader(`{"address":"`+typed+`","password":"x"}`), "application/json"); st != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d", i, st)
		}
	}
	if st, _, _ := c.do("POST", "/api/login", strings.NewReader(`{"address":"`+typed+`","password":"x"}`), "application/json"); st != http.StatusTooManyRequests {
		t.Fatalf("blocked: status %d", st)
	}
	out := logs.String()
	if strings.Contains(out, typed) {
		t.Errorf("a failed login's address is in the log:\n%s", out)
	}
	if strings.Count(out, "user_hash=") != 4 {
		t.Errorf("failed logins not logged with a hash:\n%s", out)
	}
}

// TestLoginUnavailable: when the password cannot be checked (here the store
// is closed) the answer is 503, not 401, and nothing counts as a failure.
func TestLoginUnavailable(t *testing.T) {
	t.Parallel()
	lim := authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond})
	e, _, st := loggedEnv(t, lim)
	storetest.NewAccount(t, st, "alice@example.org", "pw")
	st.Close()
	c := e.client()
	for i := range 4 {
		st, h, _ := c.do("POST", "/api/login", strings.NewReader(`{"address":"alice@example.org","password":"pw"}`), "application/json")
		if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("attempt %d with the store closed: status %d, Retry-After %q", i, st, h.Get("Retry-After"))
		}
	}
}
