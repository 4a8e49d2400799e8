package connlimit

import (
	"bufio"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAcquireRelease(t *testing.T) {
	t.Parallel()
	l := New(2)
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}
	b := &net.TCPAddr{IP: net.ParseIP("192.0.2.2"), Port: 1}
	r1, ok1 := l.Acquire(a)
	r2, ok2 := l.Acquire(a)
	_, ok3 := l.Acquire(a)
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("three acquires with limit 2: %v %v %v, want true true false", ok1, ok2, ok3)
	}
	if _, ok := l.Acquire(b); !ok {
		t.Fatalf("another address was refused")
	}
	r1()
	r1() // a second release must not free a second slot
	if got := l.Open(netip.MustParseAddr("192.0.2.1")); got != 1 {
		t.Fatalf("after one release (twice): Open = %d, want 1", got)
	}
	if _, ok := l.Acquire(a); !ok {
		t.Fatalf("slot not given back")
	}
	if _, ok := l.Acquire(a); ok {
		t.Fatalf("limit exceeded after double release")
	}
	r2()
}

func TestIPv6Prefix(t *testing.T) {
	t.Parallel()
	l := New(1)
	a := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1")}
	b := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9")}
	c := &net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1")}
	if _, ok := l.Acquire(a); !ok {
		t.Fatal("first acquire refused")
	}
	if _, ok := l.Acquire(b); ok {
		t.Errorf("same /64 got a second slot")
	}
	if _, ok := l.Acquire(c); !ok {
		t.Errorf("another /64 was refused")
	}
	// IPv4-mapped IPv6 counts as the IPv4 address.
	d := &net.TCPAddr{IP: net.ParseIP("192.0.2.7")}
	e := &net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7")}
	if _, ok := l.Acquire(d); !ok {
		t.Fatal("ipv4 refused")
	}
	if _, ok := l.Acquire(e); ok {
		t.Errorf("mapped address counted apart from its IPv4 form")
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l := New(0)
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1")}
	for i := range 100 {
		if _, ok := l.Acquire(a); !ok {
			t.Fatalf("acquire %d refused with no limit", i)
		}
	}
	u := &net.UnixAddr{Name: "/tmp/x", Net: "unix"}
	l2 := New(1)
	for i := range 3 {
		if _, ok := l2.Acquire(u); !ok {
			t.Fatalf("unix acquire %d refused", i)
		}
	}
}

func TestConcurrent(t *testing.T) {
	t.Parallel()
	l := New(5)
	a := &net.TCPAddr{IP: net.ParseIP("192.0.2.1")}
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := 0
	maxHeld := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				r, ok := l.Acquire(a)
				if !ok {
					continue
				}
				mu.Lock()
				held++
				maxHeld = max(maxHeld, held)
				mu.Unlock()
				mu.Lock()
				held--
				mu.Unlock()
				r()
			}
		}()
	}
	wg.Wait()
	if maxHeld > 5 {
		t.Errorf("%d slots held at once, limit 5", maxHeld)
	}
	if got := l.Open(netip.MustParseAddr("192.0.2.1")); got != 0 {
		t.Errorf("after all releases Open = %d", got)
	}
}

// TestListener uses real TCP connections on loopback: the third connection
// from 127.0.0.1 gets the reject line and is closed; closing one accepted
// connection frees a slot.
func TestListener(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(raw, New(2), RejectWith("421 too many\r\n", 5*time.Second))
	defer ln.Close()
	accepted := make(chan net.Conn, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	dial()
	dial()
	s1 := <-accepted
	<-accepted
	third := dial()
	line, err := bufio.NewReader(third).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "421 ") {
		t.Fatalf("third connection read %q, %v; want the 421 line", line, err)
	}
	s1.Close()
	s1.Close() // idempotent
	// The slot is free again: the next connection is accepted, not rejected.
	fourth := dial()
	s4 := <-accepted
	if s4.RemoteAddr().String() != fourth.LocalAddr().String() {
		t.Fatalf("accepted %v, want the fourth connection %v", s4.RemoteAddr(), fourth.LocalAddr())
	}
	if _, ok := s4.(*Conn); !ok {
		t.Fatalf("accepted conn is %T, want *Conn", s4)
	}
}
