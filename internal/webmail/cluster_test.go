package webmail

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// on returns a client of another server (node) with c's cookies and CSRF
// token (a cookie jar keys cookies by host, not port).
func (c *client) on(e *env) *client {
	return &client{t: c.t, hc: c.hc, base: e.base, csrf: c.csrf}
}

// waitEvent reads events in a goroutine (no t.Fatal off the test
// goroutine) and returns the first event's name, or "" after d.
func (s *stream) waitEvent(d time.Duration) string {
	done := make(chan string, 1)
	go func() {
		for {
			line, err := s.r.ReadString('\n')
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
		return name
	case <-time.After(d):
		return ""
	}
}

// TestSessionOnEveryNode: a session made on one node is valid on another
// sharing the store, and a logout on either ends it on both.
func TestSessionOnEveryNode(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	b := a.peer()
	a.account("alice@example.org")
	ca := a.login("alice@example.org")
	cb := ca.on(b)
	var info sessionInfo
	if st := cb.json("GET", "/api/session", nil, &info); st != 200 || info.Address != "alice@example.org" || info.CSRF != ca.csrf {
		t.Fatalf("session on node B: %d %+v", st, info)
	}
	// A state-changing request on B with the CSRF token from A.
	if st := cb.json("POST", "/api/mailboxes", map[string]string{"name": "FromB"}, nil); st >= 300 {
		t.Fatalf("create mailbox on node B: %d", st)
	}
	saved := ca.hc.Jar.Cookies(mustURL(t, a.base))
	if st := cb.json("POST", "/api/logout", nil, nil); st != 204 {
		t.Fatalf("logout on B: %d", st)
	}
	// The jar dropped the cookie at logout: replay it on A.
	c2 := a.client()
	c2.hc.Jar.SetCookies(mustURL(t, a.base), saved)
	if st := c2.json("GET", "/api/session", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("session on A after logout on B: %d, want 401", st)
	}
}

// TestLogoutEndsStreamOnOtherNode: an event stream on node B ends with
// "bye" within a few seconds of a logout on node A (streamCheck poll).
func TestLogoutEndsStreamOnOtherNode(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	b := a.peer()
	a.account("alice@example.org")
	ca := a.login("alice@example.org")
	ev := ca.on(b).events()
	if name, _ := ev.next(); name != "hello" {
		t.Fatalf("first event %q, want hello", name)
	}
	if st := ca.json("POST", "/api/logout", nil, nil); st != 204 {
		t.Fatalf("logout on A: %d", st)
	}
	if name := ev.waitEvent(3 * streamCheck); name != "bye" {
		t.Fatalf("event on B after logout on A: %q, want bye within %v", name, 3*streamCheck)
	}
}

// TestEndAccountAcrossNodes: EndAccount on node A (the revocation feed)
// ends the account's sessions everywhere; node B's stream ends too.
func TestEndAccountAcrossNodes(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	b := a.peer()
	alice := a.account("alice@example.org")
	ca := a.login("alice@example.org")
	ev := ca.on(b).events()
	if name, _ := ev.next(); name != "hello" {
		t.Fatalf("first event %q, want hello", name)
	}
	if n := a.srv.EndAccount(alice.ID); n != 1 {
		t.Fatalf("EndAccount on A = %d, want 1", n)
	}
	if name := ev.waitEvent(3 * streamCheck); name != "bye" {
		t.Fatalf("event on B after EndAccount on A: %q, want bye", name)
	}
	if st := ca.on(b).json("GET", "/api/session", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("session on B after EndAccount on A: %d, want 401", st)
	}
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSessionExpiry: a session ends after SessionIdle without requests, and
// after SessionMax whatever its use.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, envOpts{now: clk.now, idle: time.Hour, total: 3 * time.Hour})
	e.account("alice@example.org")
	c := e.login("alice@example.org")
	clk.add(59 * time.Minute)
	if st := c.json("GET", "/api/session", nil, nil); st != 200 {
		t.Fatalf("session after 59 min idle (limit 1 h): %d", st)
	}
	clk.add(61 * time.Minute)
	if st := c.json("GET", "/api/session", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("session after 61 min idle: %d, want 401", st)
	}
	// Total: used every 50 minutes, it still ends after 3 hours.
	c = e.login("alice@example.org")
	for i := 1; ; i++ {
		clk.add(50 * time.Minute)
		st := c.json("GET", "/api/session", nil, nil)
		if elapsed := time.Duration(i) * 50 * time.Minute; elapsed <= 3*time.Hour {
			if st != 200 {
				t.Fatalf("session in use after %v (limit 3 h): %d", elapsed, st)
			}
			continue
		}
		if st != http.StatusUnauthorized {
			t.Fatalf("session after %v: %d, want 401", time.Duration(i)*50*time.Minute, st)
		}
		break
	}
}

// TestLastSeenWrittenSeldom: requests do not write the session's last-seen
// time each time, only once touchEvery has passed since it was written.
func TestLastSeenWrittenSeldom(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	e := newEnv(t, envOpts{now: clk.now})
	e.account("alice@example.org")
	c := e.login("alice@example.org")
	lastSeen := func() time.Time {
		t.Helper()
		ck := c.hc.Jar.Cookies(mustURL(t, e.base))[0]
		ws, err := e.st.WebSession(context.Background(), hashToken(ck.Value))
		if err != nil {
			t.Fatalf("WebSession: %v", err)
		}
		return ws.LastSeen
	}
	for range 5 {
		clk.add(10 * time.Second)
		if st := c.json("GET", "/api/session", nil, nil); st != 200 {
			t.Fatalf("session: %d", st)
		}
	}
	if got := lastSeen(); !got.Equal(start) {
		t.Fatalf("last seen %v after requests within %v, want %v (not written)", got, touchEvery, start)
	}
	clk.add(touchEvery)
	if st := c.json("GET", "/api/session", nil, nil); st != 200 {
		t.Fatalf("session: %d", st)
	}
	if got, want := lastSeen(), start.Add(50*time.Second+touchEvery); !got.Equal(want) {
		t.Fatalf("last seen %v, want %v", got, want)
	}
}

// TestSessionsPerAccountBound: an account's oldest session goes when it
// would have more than maxSessionsPerAccount.
func TestSessionsPerAccountBound(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, envOpts{now: clk.now})
	e.account("alice@example.org")
	e.account("bob@example.org")
	bob := e.login("bob@example.org")
	var cs []*client
	for range maxSessionsPerAccount + 1 {
		clk.add(time.Second) // distinct creation times: "oldest" is defined
		cs = append(cs, e.login("alice@example.org"))
	}
	if st := cs[0].json("GET", "/api/session", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("oldest of %d sessions: %d, want 401", maxSessionsPerAccount+1, st)
	}
	if st := cs[1].json("GET", "/api/session", nil, nil); st != 200 {
		t.Errorf("second oldest session: %d, want 200", st)
	}
	if st := bob.json("GET", "/api/session", nil, nil); st != 200 {
		t.Errorf("another account's session: %d, want 200", st)
	}
}
