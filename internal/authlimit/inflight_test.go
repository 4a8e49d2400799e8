package authlimit

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// TestInFlightCounts: at most MaxInFlight attempts from one address run at
// once, and once the address has failed, those in flight count as failures,
// so a burst of simultaneous guesses from one address reaches the password
// check at most PerMinute+1 times (issue 13 finding 4); ending attempts
// releases the count. An address without failures is not slowed.
func TestInFlightCounts(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	l := New(Config{PerMinute: 5, Now: c.now})
	ip := netip.MustParseAddr("192.0.2.9")
	begin := func(n int) (admitted []*Attempt, delays []time.Duration, busy, blocked int) {
		for range n {
			a, d, err := l.Begin(ip, "bob@example.org")
			switch {
			case errors.Is(err, ErrBusy):
				busy++
			case errors.Is(err, ErrBlocked):
				blocked++
			case err != nil:
				t.Fatalf("Begin: %v", err)
			default:
				admitted = append(admitted, a)
				delays = append(delays, d)
			}
		}
		return
	}
	first, delays, busy, _ := begin(200)
	if len(first) != 4 || busy != 196 {
		t.Fatalf("%d of 200 simultaneous attempts admitted (%d busy), want MaxInFlight = 4", len(first), busy)
	}
	for i, d := range delays {
		if d != 0 {
			t.Errorf("attempt %d from an address without failures delayed %v", i, d)
		}
	}
	// The four fail; the burst goes on: with failures on record, the
	// attempts in flight count, so only two more are admitted (6 in all =
	// PerMinute+1), with growing delays, and the rest are refused.
	for _, a := range first {
		a.Failure()
	}
	more, delays, _, blocked := begin(200)
	if len(more) != 2 || blocked != 198 {
		t.Fatalf("after 4 failures, %d more admitted and %d refused; want 2 and 198", len(more), blocked)
	}
	if delays[0] == 0 || delays[1] <= delays[0] {
		t.Errorf("delays after failures do not grow: %v", delays)
	}
	for _, a := range first {
		a.Abandon() // already ended: does nothing
	}
	running := more
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
	if d, err := l.Check(ip, "bob@example.org"); err != nil || d == 0 {
		t.Fatalf("after abandoning the attempts: %v %v, want only the 4 failures' delay", d, err)
	}
	c.add(2 * time.Minute) // the failures leave the window
	if d, err := l.Check(ip, "bob@example.org"); err != nil || d != 0 {
		t.Fatalf("once the failures left the window: %v %v", d, err)
	}
	// Attempts that end without a verdict leave nothing behind.
	other := netip.MustParseAddr("192.0.2.11")
	a, _, _ := l.Begin(other, "bob@example.org")
	a.Abandon()
	l.mu.Lock()
	_, kept := l.ips[key(other)]
	l.mu.Unlock()
	if kept {
		t.Errorf("an entry is left after an attempt ended without a verdict")
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
