// Package connlimit bounds how many connections one client address may hold
// open at once, and how many the process holds in total, for every protocol
// server (one Limiter is shared by every listener; see internal/netserver).
//
// Invariants: a slot is taken when a connection is accepted and given back
// exactly once, when the connection is closed (Close is idempotent). IPv6
// clients are counted per /64, since one host usually owns a whole /64; IPv4
// per address. Connections whose address is not an IP (Unix sockets) are never
// limited per address, but count in the total. The Limiter holds only
// counters, under one mutex, never during I/O.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Limiter counts open connections per client address and in total.
type Limiter struct {
	max   int // per address; <= 0 = unlimited
	total int // in all; <= 0 = unlimited

	mu   sync.Mutex
	n    map[netip.Prefix]int
	open int // connections holding a slot

	refusedPerIP atomic.Uint64
	refusedTotal atomic.Uint64
}

// New returns a Limiter allowing perIP connections per address and no total
// limit; perIP <= 0 means unlimited (Acquire always succeeds).
func New(perIP int) *Limiter {
	return NewLimits(perIP, 0)
}

// NewLimits returns a Limiter allowing perIP connections per address and
// total connections in all; a value <= 0 means no limit of that kind.
func NewLimits(perIP, total int) *Limiter {
	return &Limiter{max: perIP, total: total, n: map[netip.Prefix]int{}}
}

// Reason says why Acquire refused a connection.
type Reason uint8

// Reasons of a refusal.
const (
	OK    Reason = iota
	PerIP        // the client address holds its maximum
	Total        // the process holds its maximum
)

// String names the reason for logs and metrics.
func (r Reason) String() string {
	switch r {
	case PerIP:
		return "per_ip"
	case Total:
		return "total"
	}
	return "ok"
}

// Stats are the Limiter's counters.
type Stats struct {
	Open         int    // connections holding a slot now
	Addresses    int    // client buckets with an open connection
	RefusedPerIP uint64 // connections refused because their address was full
	RefusedTotal uint64 // connections refused because the process was full
	MaxPerIP     int    // the per-address limit; 0 = none
	MaxTotal     int    // the total limit; 0 = none
}

// Stats returns the counters now.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Stats{
		Open: l.open, Addresses: len(l.n),
		RefusedPerIP: l.refusedPerIP.Load(), RefusedTotal: l.refusedTotal.Load(),
		MaxPerIP: max(l.max, 0), MaxTotal: max(l.total, 0),
	}
}

// Key is the bucket a client address counts in.
func Key(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// AddrIP returns the IP of a TCP address (false for anything else).
func AddrIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case interface{ AddrPort() netip.AddrPort }:
		return a.AddrPort().Addr().Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// Acquire takes a slot for a connection from addr. When ok, release must be
// called exactly once when the connection ends; it is safe to call it more
// than once (later calls do nothing).
func (l *Limiter) Acquire(addr net.Addr) (release func(), ok bool) {
	release, why := l.AcquireReason(addr)
	return release, why == OK
}

// AcquireReason is Acquire, saying why a connection was refused.
func (l *Limiter) AcquireReason(addr net.Addr) (release func(), why Reason) {
	ip, isIP := AddrIP(addr)
	perIP := l.max > 0 && isIP
	if !perIP && l.total <= 0 {
		return func() {}, OK
	}
	var k netip.Prefix
	if perIP {
		k = Key(ip)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.total > 0 && l.open >= l.total {
		l.refusedTotal.Add(1)
		return nil, Total
	}
	if perIP && l.n[k] >= l.max {
		l.refusedPerIP.Add(1)
		return nil, PerIP
	}
	l.open++
	if perIP {
		l.n[k]++
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.open--
			if !perIP {
				return
			}
			if l.n[k] <= 1 {
				delete(l.n, k) // keep the map as small as the set of open clients
			} else {
				l.n[k]--
			}
		})
	}, OK
}

// Open returns how many connections addr's bucket holds now.
func (l *Limiter) Open(ip netip.Addr) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[Key(ip)]
}

// Wrap takes a slot for c. When ok, the returned Conn gives the slot back on its
// first Close. When not ok, c is returned untouched and still open: the caller
// decides how to refuse it.
func (l *Limiter) Wrap(c net.Conn) (net.Conn, bool) {
	release, ok := l.Acquire(c.RemoteAddr())
	if !ok {
		return c, false
	}
	return &Conn{Conn: c, release: release}, true
}

// Conn is a connection holding a slot.
type Conn struct {
	net.Conn
	release func()
}

// Close closes the connection and gives its slot back.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// Unwrap returns the underlying connection.
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// Listener limits the connections it hands out. Connections over the limit are
// passed to Reject (in their own goroutine, so that a slow client cannot stall
// Accept) and never returned from Accept.
type Listener struct {
	net.Listener
	limiter *Limiter
	reject  func(net.Conn)
}

// NewListener wraps ln. reject writes a protocol-level refusal (for example
// SMTP's "421 4.7.0") and must close the connection and bound its own I/O
// with deadlines; nil just closes it.
func NewListener(ln net.Listener, l *Limiter, reject func(net.Conn)) *Listener {
	return &Listener{Listener: ln, limiter: l, reject: reject}
}

// Accept returns the next connection within the limit.
func (ln *Listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if wc, ok := ln.limiter.Wrap(c); ok {
			return wc, nil
		}
		if ln.reject == nil {
			c.Close()
			continue
		}
		go ln.reject(c)
	}
}

// RejectWith returns a reject function that writes line (which must end in
// CRLF) with a write deadline of timeout and closes the connection.
func RejectWith(line string, timeout time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		defer c.Close()
		c.SetWriteDeadline(time.Now().Add(timeout))
		c.Write([]byte(line))
	}
}
