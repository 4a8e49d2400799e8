package authlimit

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSharedAcrossNodes: two limiters (two nodes) that pass each other what
// they Observe through Apply block a guesser who spreads a burst over both
// as one limiter blocks it on one; the shared events carry account keys,
// never the typed names; a good login on one node forgets that account's
// failures on the other.
func TestSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var mu sync.Mutex
	var events []Event
	var a, b *Limiter
	observe := func(to **Limiter) func(Event) {
		return func(ev Event) {
			mu.Lock()
			events = append(events, ev)
			mu.Unlock()
			(*to).Apply(ev) // delivered at once; a node hears others within a poll
		}
	}
	a = New(Config{PerMinute: 5, Now: c.now, Observe: observe(&b)})
	b = New(Config{PerMinute: 5, Now: c.now, Observe: observe(&a)})
	ip := netip.MustParseAddr("192.0.2.7")
	// Six failures, alternating nodes: the sixth blocks, on both nodes.
	for i := range 6 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if _, err := l.Check(ip, "victim@example.org"); err != nil {
			t.Fatalf("attempt %d refused early: %v", i, err)
		}
		l.Failure(ip, "victim@example.org")
	}
	for name, l := range map[string]*Limiter{"a": a, "b": b} {
		if _, err := l.Check(ip, "victim@example.org"); err != ErrBlocked {
			t.Errorf("node %s after 6 failures over two nodes: %v, want ErrBlocked", name, err)
		}
	}
	mu.Lock()
	for _, ev := range events {
		for _, k := range ev.Accounts {
			if strings.Contains(k, "victim") {
				t.Errorf("a shared event carries the typed name: %q", k)
			}
		}
		if !ev.Success && !slices.Equal(ev.Accounts, []string{AccountKey("Victim@Example.org")}) {
			t.Errorf("failure event accounts %q, want the key of the name", ev.Accounts)
		}
	}
	mu.Unlock()

	// Another address: two failures for bob on a, then bob logs in on b:
	// a forgets them too (its next check is not slowed).
	ip2 := netip.MustParseAddr("192.0.2.8")
	for range 3 {
		a.Failure(ip2, "bob@example.org")
	}
	if d, _ := a.Check(ip2, ""); d == 0 {
		t.Fatal("three failures did not slow the address down")
	}
	b.Success(ip2, "bob", "bob@example.org")
	if d, err := a.Check(ip2, ""); err != nil || d != 0 {
		t.Errorf("after a good login on the other node: delay %v, %v; want none", d, err)
	}

	// An event older than the window changes nothing.
	ip3 := netip.MustParseAddr("192.0.2.9")
	for range 10 {
		a.Apply(Event{Prefix: key(ip3), At: c.now().Add(-2 * time.Minute)})
	}
	if d, err := a.Check(ip3, ""); err != nil || d != 0 {
		t.Errorf("after stale remote failures: %v, %v; want nothing", d, err)
	}
}
