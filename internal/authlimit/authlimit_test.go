package authlimit

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestSlowsThenBlocksThenForgets(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := New(Config{PerMinute: 5, Now: c.now})
	ip := netip.MustParseAddr("192.0.2.1")
	other := netip.MustParseAddr("192.0.2.2")
	var delays []time.Duration
	for i := range 6 {
		d, err := l.Check(ip, "alice@example.org")
		if err != nil {
			t.Fatalf("attempt %d refused early: %v", i, err)
		}
		delays = append(delays, d)
		if blocked := l.Failure(ip, "alice@example.org"); blocked != (i == 5) {
			t.Fatalf("attempt %d: blocked = %v", i, blocked)
		}
	}
	if delays[0] != 0 || delays[1] != 0 || delays[2] == 0 || delays[4] <= delays[2] {
		t.Fatalf("delays do not grow: %v", delays)
	}
	if _, err := l.Check(ip, "alice@example.org"); !errors.Is(err, ErrBlocked) {
		t.Fatalf("after 6 failures: %v, want ErrBlocked", err)
	}
	// Another address logs in normally; the account is only slowed a little.
	if d, err := l.Check(other, "alice@example.org"); err != nil || d > time.Second {
		t.Fatalf("other IP: delay %v err %v", d, err)
	}
	c.add(6 * time.Minute)
	if d, err := l.Check(ip, "alice@example.org"); err != nil || d != 0 {
		t.Fatalf("after the block expired: delay %v err %v", d, err)
	}
}

func TestIPv6GroupedBy64(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	l := New(Config{PerMinute: 3, Now: c.now})
	for i := range 4 {
		l.Failure(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i+1)), "")
	}
	if _, err := l.Check(netip.MustParseAddr("2001:db8::ffff"), ""); !errors.Is(err, ErrBlocked) {
		t.Fatalf("same /64: %v, want ErrBlocked", err)
	}
	if _, err := l.Check(netip.MustParseAddr("2001:db8:1::1"), ""); err != nil {
		t.Fatalf("other /64: %v", err)
	}
}

func TestSuccessResets(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(0, 0)}
	l := New(Config{Now: c.now})
	ip := netip.MustParseAddr("198.51.100.7")
	for range 4 {
		l.Failure(ip, "")
	}
	if d, _ := l.Check(ip, ""); d == 0 {
		t.Fatal("no delay after 4 failures")
	}
	l.Success(ip, "")
	if d, _ := l.Check(ip, ""); d != 0 {
		t.Fatalf("delay %v after success", d)
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	l := New(Config{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				ip := netip.AddrFrom4([4]byte{10, byte(g), byte(i >> 8), byte(i)})
				l.Check(ip, "x")
				l.Failure(ip, "x")
			}
		}()
	}
	wg.Wait()
	l.mu.Lock()
	n := len(l.ips)
	l.mu.Unlock()
	if n > 16000 || n == 0 {
		t.Fatalf("%d entries tracked", n)
	}
}
