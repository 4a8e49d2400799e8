package smtpserver

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"gannet/internal/connlimit"
	"gannet/internal/delivery"
)

// conn is one client connection below TLS. It exists for Shutdown: once
// draining, a connection that is not in the middle of a command gets a read
// deadline in the past, so that go-smtp's next (or current) wait for a
// command fails at once and it answers 421 and closes; a command in progress
// (marked by enter/leave) keeps its deadlines until it is done.
type conn struct {
	net.Conn
	s   *Server
	cid string
	ip  netip.Addr
	log *slog.Logger

	mu       sync.Mutex
	draining bool
	busy     int
	closed   bool
	// timedOut is set by the first read that hits its deadline. Later reads
	// fail at once: bufio hands go-smtp a partial line that timed out as if
	// it were complete, and the connection must end right after it.
	timedOut bool
	// hungUp: we answered 421 ourselves; later reads see EOF, so that go-smtp
	// closes without a second 421.
	hungUp bool
	// pm completes a bare RCPT TO:<postmaster> (postmaster.go); nil under
	// implicit TLS. Only Read touches it.
	pm *pmFilter
}

// Unwrap returns the connection below (connlimit.QuickAck reaches the socket).
func (c *conn) Unwrap() net.Conn { return c.Conn }

// past returns a read deadline that has already passed.
func past() time.Time { return time.Unix(1, 0) }

func (s *Server) track(c net.Conn) *conn {
	ip, _ := connlimit.AddrIP(c.RemoteAddr())
	cid := delivery.NewID()[:10]
	wc := &conn{Conn: c, s: s, cid: cid, ip: ip}
	wc.log = s.log.With("cid", cid, "remote", c.RemoteAddr().String())
	s.mu.Lock()
	s.conns[wc] = struct{}{}
	if s.shutting {
		wc.drain()
	}
	s.mu.Unlock()
	wc.log.Debug("connected")
	return wc
}

// connOf finds our conn below go-smtp's (possibly TLS) connection.
func connOf(gc *gosmtp.Conn) *conn {
	nc := gc.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	c, _ := nc.(*conn)
	return c
}

// Read fails for good once a read has timed out.
func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	timedOut, hungUp := c.timedOut, c.hungUp
	c.mu.Unlock()
	switch {
	case hungUp:
		return 0, io.EOF
	case timedOut:
		return 0, os.ErrDeadlineExceeded
	}
	if c.pm != nil && len(c.pm.pending) > 0 {
		n := copy(p, c.pm.pending)
		c.pm.pending = c.pm.pending[n:]
		return n, nil
	}
	n, err := c.Conn.Read(p)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.mu.Lock()
		c.timedOut = true
		c.mu.Unlock()
	}
	if c.pm != nil && n > 0 {
		c.mu.Lock()
		busy := c.busy > 0
		c.mu.Unlock()
		if out := c.pm.filter(p[:n], busy); len(out) != n {
			// Lengthened: what does not fit comes with the next Read (an error
			// the connection returned comes back then, too).
			n = copy(p, out)
			c.pm.pending = append(c.pm.pending[:0], out[n:]...)
			if len(c.pm.pending) > 0 {
				err = nil
			}
		}
	}
	return n, err
}

// expired reports whether a read timed out: the command being handled may be
// the truncated line bufio returned on timeout, and must not take effect.
func (c *conn) expired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.timedOut
}

// hangUp makes later reads see EOF after we sent a 421.
func (c *conn) hangUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hungUp = true
}

// SetReadDeadline keeps the drain deadline while draining between commands.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining && c.busy == 0 {
		t = past()
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline is SetReadDeadline and SetWriteDeadline (crypto/tls uses it).
func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(t)
}

// drain makes the connection end at its next pause between commands.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if c.busy == 0 {
		c.Conn.SetReadDeadline(past())
	}
}

// enter marks a command that must be allowed to finish (a message being read).
func (c *conn) enter() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy++
}

func (c *conn) leave() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	if c.busy == 0 && c.draining {
		c.Conn.SetReadDeadline(past())
	}
}

// Close closes the connection once, returns its per-IP slot and forgets it.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	err := c.Conn.Close()
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	c.log.Debug("disconnected")
	return err
}
