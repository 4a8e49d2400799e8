package netserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gannet/internal/connlimit"
)

// Defaults for zero Config fields.
const (
	// DefaultProxyTimeout bounds the read of a PROXY header.
	DefaultProxyTimeout = 5 * time.Second
	// DefaultHandshakeTimeout bounds a TLS handshake (implicit, or after
	// STARTTLS/STLS): a client that stalls or sends garbage is cut then.
	DefaultHandshakeTimeout = 10 * time.Second
	// refusalTimeout bounds the write of a refusal and the drain after it.
	refusalTimeout = 2 * time.Second
	// maxRefusing bounds the refusals in progress; beyond it a refused
	// connection is closed without a word (a flood gets no answers).
	maxRefusing = 256
	// Accept backoff after an error, as net/http does.
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// Config configures a Listener (and the listeners of a Server).
type Config struct {
	// Proto names the protocol in logs and metrics ("imap", "http").
	Proto string
	// Limiter is the connection limiter shared by every listener; nil = none.
	Limiter *connlimit.Limiter
	// Registry counts live connections per protocol; nil = a private one.
	Registry *Registry
	// TrustedProxies are the networks whose connections must begin with a
	// PROXY protocol header (v1 or v2).
	TrustedProxies []netip.Prefix
	// ProxyTimeout bounds the read of a PROXY header; 0 = DefaultProxyTimeout.
	ProxyTimeout time.Duration
	// Refusal is written to a connection refused by the limiter, e.g. SMTP's
	// "421 4.7.0 ...\r\n" or HTTP's 503 (see RefusalHTTP); nil closes it
	// without a word.
	Refusal []byte
	// RefusalTLS is set for listeners whose clients start with TLS (the
	// handshake itself happens above the Listener, or in Server): a refusal
	// is then sent inside a TLS session, after a handshake bounded like the
	// refusal's write, since plain text would be garbage to the client.
	RefusalTLS *tls.Config
	// ClientFirst marks protocols where the client speaks first (HTTP): the
	// refusal waits for the request's head, since an answer before the
	// request is an error to HTTP clients, not a 503.
	ClientFirst bool
	// Logger; nil = discard.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Registry == nil {
		c.Registry = NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ProxyTimeout <= 0 {
		c.ProxyTimeout = DefaultProxyTimeout
	}
	if c.Proto == "" {
		c.Proto = "tcp"
	}
}

// RefusalHTTP is a minimal HTTP/1.1 503 answer for a refused connection.
var RefusalHTTP = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Length: 29\r\n" +
	"Retry-After: 10\r\n" +
	"Connection: close\r\n\r\n" +
	"Too many connections; retry.\n")

// Listener wraps a net.Listener: its Accept returns only connections within
// the limits, as *Conn. It accepts in its own goroutine, so that a PROXY
// header being read or a refusal being written never delays other clients.
type Listener struct {
	ln  net.Listener
	cfg Config
	log *slog.Logger

	ch       chan *Conn
	done     chan struct{} // closed by Close
	stopped  chan struct{} // closed when the accept goroutine ends
	closing  sync.Once
	err      error // why the accept goroutine ended; read after stopped
	refusing atomic.Int32
	pending  sync.WaitGroup // PROXY readers and refusals
}

// NewListener starts accepting on ln.
func NewListener(ln net.Listener, cfg Config) *Listener {
	cfg.defaults()
	l := &Listener{
		ln: ln, cfg: cfg,
		log:     cfg.Logger.With("proto", cfg.Proto, "listener", ln.Addr().String()),
		ch:      make(chan *Conn),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go l.run()
	return l
}

// Accept returns the next connection within the limits. After Close, or
// when the listener failed for good, it returns an error wrapping
// net.ErrClosed (or the listener's own error).
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.stopped:
		// A connection handed over just before the end still counts.
		select {
		case c := <-l.ch:
			return c, nil
		default:
		}
		return nil, l.err
	}
}

// Close stops accepting and closes the listener; connections already
// accepted stay open. PROXY headers being read and refusals being written
// end by their deadlines.
func (l *Listener) Close() error {
	err := net.ErrClosed
	l.closing.Do(func() {
		close(l.done)
		err = l.ln.Close()
	})
	return err
}

// Addr is the listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// run is the accept loop.
func (l *Listener) run() {
	defer func() {
		l.pending.Wait() // no send on ch after stopped is closed
		close(l.stopped)
	}()
	var backoff time.Duration
	failures := 0
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.done:
				l.err = net.ErrClosed
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				l.err = err
				return
			}
			// Out of file descriptors (EMFILE, ENFILE) and the like: sleep
			// and retry; never spin. One log line per burst, not per attempt.
			if failures == 0 {
				l.log.Warn("accept failed; retrying with backoff", "err", err)
			}
			failures++
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				l.err = net.ErrClosed
				return
			}
			continue
		}
		if failures > 0 {
			l.log.Warn("accept works again", "failed_attempts", failures)
			failures, backoff = 0, 0
		}
		if l.trusted(nc.RemoteAddr()) {
			l.pending.Add(1)
			go func() {
				defer l.pending.Done()
				l.proxied(nc)
			}()
			continue
		}
		l.admit(nc, nc.RemoteAddr())
	}
}

func (l *Listener) trusted(a net.Addr) bool {
	if len(l.cfg.TrustedProxies) == 0 {
		return false
	}
	ip, ok := connlimit.AddrIP(a)
	if !ok {
		return false
	}
	for _, p := range l.cfg.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// proxied reads the PROXY header of a trusted peer's connection, then admits
// the connection under the client's address.
func (l *Listener) proxied(nc net.Conn) {
	nc.SetReadDeadline(time.Now().Add(l.cfg.ProxyTimeout))
	src, dst, err := ReadProxyHeader(nc)
	nc.SetReadDeadline(time.Time{})
	if err != nil {
		l.log.Info("connection from trusted proxy refused", "remote", nc.RemoteAddr().String(), "err", err)
		nc.Close()
		return
	}
	remote, local := nc.RemoteAddr(), nc.LocalAddr()
	if src.IsValid() {
		remote = net.TCPAddrFromAddrPort(src)
		local = net.TCPAddrFromAddrPort(dst)
	}
	l.admitAs(nc, remote, local)
}

func (l *Listener) admit(nc net.Conn, remote net.Addr) { l.admitAs(nc, remote, nc.LocalAddr()) }

// admitAs takes a limiter slot for remote and hands the connection to Accept,
// or refuses it.
func (l *Listener) admitAs(nc net.Conn, remote, local net.Addr) {
	release := func() {}
	if l.cfg.Limiter != nil {
		rel, why := l.cfg.Limiter.AcquireReason(remote)
		if why != connlimit.OK {
			l.cfg.Registry.refused(l.cfg.Proto, why)
			l.refuse(nc, remote, why)
			return
		}
		release = rel
	}
	c := &Conn{Conn: nc, remote: remote, local: local, proto: l.cfg.Proto, reg: l.cfg.Registry, release: release}
	l.cfg.Registry.opened(l.cfg.Proto)
	select {
	case l.ch <- c:
	case <-l.done:
		c.Close()
	}
}

// refuse answers a connection over the limits and closes it, in its own
// goroutine, with deadlines; beyond maxRefusing refusals in progress it just
// closes it.
func (l *Listener) refuse(nc net.Conn, remote net.Addr, why connlimit.Reason) {
	l.log.Debug("connection refused", "remote", remote.String(), "reason", why.String())
	if l.cfg.Refusal == nil || l.refusing.Add(1) > maxRefusing {
		if l.cfg.Refusal != nil {
			l.refusing.Add(-1)
		}
		nc.Close()
		return
	}
	l.pending.Add(1)
	go func() {
		defer l.pending.Done()
		defer l.refusing.Add(-1)
		c := nc
		if l.cfg.RefusalTLS != nil {
			tc := tls.Server(nc, l.cfg.RefusalTLS)
			if _, err := handshake(context.Background(), tc, refusalTimeout); err != nil {
				nc.Close()
				return
			}
			c = tc
		}
		if l.cfg.ClientFirst {
			readHead(c)
		}
		WriteRefusal(c, l.cfg.Refusal)
	}()
}

// WriteRefusal writes msg to c under a short deadline and closes it. It reads
// what the client sent meanwhile first (briefly), so that closing does not
// reset the connection and destroy the answer before the client reads it.
func WriteRefusal(c net.Conn, msg []byte) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(refusalTimeout))
	if _, err := c.Write(msg); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// readHead reads a request head (up to a blank line, 8 KB or refusalTimeout).
func readHead(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(refusalTimeout))
	buf := make([]byte, 0, 8<<10)
	for len(buf) < cap(buf) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || bytes.Contains(buf, []byte("\r\n\r\n")) || bytes.Contains(buf, []byte("\n\n")) {
			return
		}
	}
}

// Conn is an admitted connection: it holds a limiter slot until Close, and
// its RemoteAddr is the client's (from the PROXY header, if any).
type Conn struct {
	net.Conn
	remote, local net.Addr
	proto         string
	reg           *Registry
	release       func()
	once          sync.Once
}

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// LocalAddr is the address the client connected to.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// Close closes the connection and gives its slot back (once).
func (c *Conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.release()
		c.reg.closed(c.proto)
	})
	return err
}

// Unwrap returns the socket below (connlimit.QuickAck reaches it so).
func (c *Conn) Unwrap() net.Conn { return c.Conn }

// CloseWrite half-closes the socket below, when it can.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
