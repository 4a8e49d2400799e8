package authlimit

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// TestInFlightCounts: attempts begun and not yet ended count as failures, so
// a burst of simultaneous attempts from one address is slowed and then refused
// before any of them is checked (issue 13 finding 4); ending them releases
// the count.
func TestInFlightCounts(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	l := New(Config{PerMinute: 5, Now: c.now})
	ip := netip.MustParseAddr("192.0.2.9")
	var running []*Attempt
	var delays []time.Duration
	for range 200 {
		a, d, err := l.Begin(ip, "bob@example.org")
		if err != nil {
			if !errors.Is(err, ErrBlocked) {
				t.Fatalf("Begin: %v", err)
			}
			continue
		}
		running = append(running, a)
		delays = append(delays, d)
	}
	if len(running) != 6 {
		t.Fatalf("%d of 200 simultaneous attempts admitted, want PerMinute+1 = 6", len(running))
	}
	if delays[0] != 0 || delays[1] != 0 || delays[2] == 0 || delays[5] <= delays[2] {
		t.Errorf("delays of simultaneous attempts do not grow as failures' would: %v", delays)
	}
	// Another address is not concerned.
	if d, err := l.Check(netip.MustParseAddr("192.0.2.10"), ""); err != nil || d != 0 {
		t.Errorf("other address: %v %v", d, err)
	}
	// Abandoned attempts (store error, server busy) stop counting.
	for _, a := range running {
		a.Abandon()
		a.Abandon() // a second end does nothing
		a.Failure()
	}
	if d, err := l.Check(ip, "bob@example.org"); err != nil || d != 0 {
		t.Fatalf("after abandoning every attempt: %v %v", d, err)
	}
	l.mu.Lock()
	n := len(l.ips)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d entries left after every attempt ended without a verdict", n)
	}
	// Failed attempts turn into failures: six of them block the address.
	for i := range 6 {
		a, _, err := l.Begin(ip, "bob@example.org")
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if blocked := a.Failure(); blocked != (i == 5) {
			t.Fatalf("attempt %d: blocked = %v", i, blocked)
		}
	}
	if _, _, err := l.Begin(ip, "bob@example.org"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("after 6 failures: %v", err)
	}
	c.add(6 * time.Minute)
	if _, d, err := l.Begin(ip, "bob@example.org"); err != nil || d != 0 {
		t.Fatalf("after the block expired: %v %v", d, err)
	}
}

// TestSuccessKeepsOtherAccountsFailures (issue 13 finding 5): a good login
// as alice from an address must not forget that address's guesses at bob.
// On the old limiter Success deleted the address's whole entry, and a guesser
// who knew one password could guess another account's forever.
func TestSuccessKeepsOtherAccountsFailures(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	l := New(Config{PerMinute: 5, Now: c.now})
	ip := netip.MustParseAddr("198.51.100.20")
	guesses := 0
	for range 20 {
		a, _, err := l.Begin(ip, "bob@example.org")
		if errors.Is(err, ErrBlocked) {
			break
		}
		guesses++
		a.Failure()
		// Every other guess, a correct login as alice (typed in capitals,
		// its address lower-case).
		if guesses%2 == 0 {
			if a, _, err := l.Begin(ip, "ALICE"); err == nil {
				a.Success("alice@example.org")
			}
		}
	}
	if guesses != 6 {
		t.Fatalf("%d guesses at bob before the block, want 6 as without alice's logins", guesses)
	}
}

// TestSuccessForgetsOwnFailures: the user who mistyped a password and then
// got it right is not slowed further, under the name typed or the address.
func TestSuccessForgetsOwnFailures(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	l := New(Config{PerMinute: 5, Now: c.now})
	ip := netip.MustParseAddr("198.51.100.21")
	for _, name := range []string{"alice", "Alice@Example.org", "alice"} {
		l.Failure(ip, name)
	}
	l.Failure(ip, "bob@example.org")
	if d, _ := l.Check(ip, ""); d == 0 {
		t.Fatal("no delay after 4 failures")
	}
	a, _, err := l.Begin(ip, "alice")
	if err != nil {
		t.Fatal(err)
	}
	a.Success("alice@example.org")
	l.mu.Lock()
	left := len(l.ips[key(ip)].failures)
	l.mu.Unlock()
	if left != 1 {
		t.Errorf("%d failures left after alice's success, want bob's 1", left)
	}
}
