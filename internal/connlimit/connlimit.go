// Package connlimit bounds how many connections one client address may hold
// open at once, for every protocol server (SMTP now, IMAP and POP3 later).
//
// Invariants: a slot is taken when a connection is accepted and given back
// exactly once, when the connection is closed (Close is idempotent). IPv6
// clients are counted per /64, since one host usually owns a whole /64; IPv4
// per address. Connections whose address is not an IP (Unix sockets) are never
// limited. The Limiter holds only counters, under one mutex, never during I/O.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// Limiter counts open connections per client address.
type Limiter struct {
	max int
	mu  sync.Mutex
	n   map[netip.Prefix]int
}

// New returns a Limiter allowing perIP connections per address; perIP <= 0
// means unlimited (Acquire always succeeds).
func New(perIP int) *Limiter {
	return &Limiter{max: perIP, n: map[netip.Prefix]int{}}
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
	ip, isIP := AddrIP(addr)
	if l.max <= 0 || !isIP {
		return func() {}, true
	}
	k := Key(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k] >= l.max {
		return nil, false
	}
	l.n[k]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.n[k] <= 1 {
				delete(l.n, k) // keep the map as small as the set of open clients
			} else {
				l.n[k]--
			}
		})
	}, true
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
