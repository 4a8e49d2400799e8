// Package smtpclient is Gannet's SMTP client for relaying mail to other servers
// (RFC 5321): what the queue uses to reach MX hosts, transports and smarthosts.
//
// What it does beyond a minimal client, and why:
//   - STARTTLS on the same connection whenever offered (RFC 3207), opportunistic
//     unless Options.RequireTLS; TLSState reports whether the hop was encrypted.
//   - PIPELINING (RFC 2920): RSET, MAIL, every RCPT and DATA go out in one write,
//     so a transaction costs two round trips instead of 3+n.
//   - Per-recipient results: Result.Outcome(i) is the reply that decided
//     recipient i, so the queue can deliver, retry or bounce each one.
//   - One connection carries many transactions (Send may be called again).
//   - SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) and DSN
//     (RFC 3461) parameters are sent when the server offers the extension.
//   - Every read and write has a deadline from Timeouts (RFC 5321 4.5.3.2), and
//     cancelling the ctx of a call aborts its blocked I/O at once.
//
// Invariants: a Client is used by one goroutine at a time. After any I/O or
// protocol error, or a 421 reply, the Client is broken (Usable reports false)
// and must be closed; it never sends another command then.
package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Timeouts bound each step of a session. The defaults are RFC 5321 4.5.3.2's.
type Timeouts struct {
	Connect   time.Duration // TCP connect; not in the RFC; default 30 s
	Greeting  time.Duration // 4.5.3.2.1 initial 220 message: 5 min
	Command   time.Duration // 4.5.3.2.2/3 MAIL, RCPT (and EHLO, RSET, STARTTLS, AUTH, QUIT): 5 min
	DataInit  time.Duration // 4.5.3.2.4 DATA initiation (waiting for 354): 2 min
	DataBlock time.Duration // 4.5.3.2.5 each write of message data: 3 min
	DataTerm  time.Duration // 4.5.3.2.6 reply to the final ".": 10 min
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Connect, 30*time.Second)
	def(&t.Greeting, 5*time.Minute)
	def(&t.Command, 5*time.Minute)
	def(&t.DataInit, 2*time.Minute)
	def(&t.DataBlock, 3*time.Minute)
	def(&t.DataTerm, 10*time.Minute)
	return t
}

// Auth are credentials for AUTH (RFC 4954), used with a smarthost.
type Auth struct {
	Username string
	Password string
}

// Options configure a Client.
type Options struct {
	// Hostname is our name in EHLO/HELO (RFC 5321 4.1.1.1).
	Hostname string
	// TLS is used for STARTTLS; nil never starts TLS. ServerName, when empty,
	// is set to the server name given to New.
	TLS *tls.Config
	// RequireTLS fails the session when STARTTLS is not offered or fails.
	RequireTLS bool
	// Auth, when set, authenticates after STARTTLS with PLAIN (RFC 4616) or,
	// failing that, LOGIN. Credentials are sent only over TLS or to a loopback
	// address.
	Auth *Auth
	// Timeouts; zero fields take the RFC 5321 defaults.
	Timeouts Timeouts
}

// Client is one SMTP session with one server.
type Client struct {
	conn       net.Conn
	dc         *deadlineConn
	br         *bufio.Reader
	bw         *bufio.Writer
	opts       Options
	to         Timeouts
	serverName string
	greeting   Reply
	ext        map[string]string // EHLO keywords, upper case → parameters
	esmtp      bool
	tlsState   *tls.ConnectionState
	used       bool // a transaction was started: the next one begins with RSET
	broken     error

	// mu guards conn against the ctx watcher (abort), which runs on another
	// goroutine; aborted makes every later deadline "now", so that a deadline
	// set after the abort cannot revive the blocked call.
	mu      sync.Mutex
	aborted bool
}

// ErrBroken is returned by a call on a Client that an earlier error broke.
var ErrBroken = errors.New("smtp: connection broken by an earlier error")

// TLSError is a failed STARTTLS handshake. The connection is gone; a caller
// doing opportunistic TLS may reconnect without TLS (Options.TLS nil).
type TLSError struct{ Err error }

func (e *TLSError) Error() string { return "smtp: STARTTLS handshake: " + e.Err.Error() }
func (e *TLSError) Unwrap() error { return e.Err }

// Dial connects to addr ("host:port") with dial (nil: a net.Dialer) and runs New.
func Dial(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error),
	addr, serverName string, opts Options) (*Client, error) {
	to := opts.Timeouts.withDefaults()
	if dial == nil {
		d := &net.Dialer{}
		dial = d.DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, to.Connect)
	defer cancel()
	conn, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: connect %s: %w", addr, err)
	}
	c, err := New(ctx, conn, serverName, opts)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// New runs the start of a session on conn: greeting, EHLO (HELO when EHLO is
// refused), STARTTLS when offered, and AUTH when configured. serverName is the
// server's host name (for TLS and messages). On error conn is closed.
func New(ctx context.Context, conn net.Conn, serverName string, opts Options) (*Client, error) {
	c := &Client{conn: conn, opts: opts, to: opts.Timeouts.withDefaults(), serverName: serverName}
	c.setConn(conn)
	if err := c.start(ctx); err != nil {
		conn.Close()
		if c.conn != conn {
			c.conn.Close()
		}
		return nil, err
	}
	return c, nil
}

func (c *Client) setConn(conn net.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	c.dc = &deadlineConn{c: c, timeout: c.to.Command}
	// RFC 5321 4.5.3.1.5: a reply line is at most 512 octets; be lenient but bounded.
	c.br = bufio.NewReaderSize(c.dc, 4096)
	c.bw = bufio.NewWriterSize(c.dc, 32<<10)
}

func (c *Client) start(ctx context.Context) error {
	defer c.watch(ctx)()
	r, err := c.read(c.to.Greeting)
	if err != nil {
		return fmt.Errorf("smtp: greeting from %s: %w", c.serverName, err)
	}
	c.greeting = r
	if r.Code != 220 {
		// RFC 5321 3.1: a 554 greeting means "no service here"; try elsewhere.
		c.cmd(c.to.Command, "QUIT")
		return &ReplyError{Command: "connect", Reply: r}
	}
	if err := c.hello(); err != nil {
		return err
	}
	if _, ok := c.ext["STARTTLS"]; ok && c.opts.TLS != nil {
		if err := c.startTLS(); err != nil {
			return err
		}
	}
	if c.opts.RequireTLS && c.tlsState == nil {
		c.cmd(c.to.Command, "QUIT")
		return fmt.Errorf("smtp: %s: TLS required but not available", c.serverName)
	}
	if c.opts.Auth != nil {
		if err := c.auth(); err != nil {
			return err
		}
	}
	return nil
}

// hello sends EHLO, falling back to HELO when the server does not know EHLO
// (RFC 5321 3.2: a 5xx to EHLO from an old server).
func (c *Client) hello() error {
	r, err := c.cmd(c.to.Command, "EHLO %s", c.opts.Hostname)
	if err != nil {
		return err
	}
	c.ext = map[string]string{}
	if r.Code == 250 {
		c.esmtp = true
		lines := strings.Split(r.Text, "\n")
		for _, l := range lines[1:] { // the first line is the server's name
			kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
			if kw != "" {
				c.ext[strings.ToUpper(kw)] = params
			}
		}
		return nil
	}
	if !r.Permanent() {
		return &ReplyError{Command: "EHLO", Reply: r}
	}
	c.esmtp = false
	r, err = c.cmd(c.to.Command, "HELO %s", c.opts.Hostname)
	if err != nil {
		return err
	}
	if r.Code != 250 {
		return &ReplyError{Command: "HELO", Reply: r}
	}
	return nil
}

// startTLS upgrades the connection (RFC 3207 4) and says EHLO again, forgetting
// what the server offered in the clear (RFC 3207 4.2).
func (c *Client) startTLS() error {
	r, err := c.cmd(c.to.Command, "STARTTLS")
	if err != nil {
		return err
	}
	if r.Code != 220 {
		if c.opts.RequireTLS {
			return &ReplyError{Command: "STARTTLS", Reply: r}
		}
		return nil // opportunistic: carry on in the clear
	}
	// Bytes the server sent after 220 but before the handshake would be read as
	// if they came over TLS: the STARTTLS command injection of CVE-2011-0411's
	// family. Refuse rather than trust them.
	if c.br.Buffered() > 0 {
		c.broken = errors.New("smtp: data after STARTTLS reply")
		return c.broken
	}
	cfg := c.opts.TLS.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = c.serverName
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	tc := tls.Client(c.conn, cfg)
	if err := c.setDeadline(c.conn.SetDeadline, c.to.Command); err != nil {
		c.broken = &TLSError{Err: err}
		return c.broken
	}
	if err := tc.Handshake(); err != nil {
		c.broken = &TLSError{Err: err}
		return c.broken
	}
	st := tc.ConnectionState()
	c.tlsState = &st
	c.setConn(tc)
	return c.hello()
}

// auth authenticates (RFC 4954) with PLAIN, or LOGIN when only that is offered.
func (c *Client) auth() error {
	if c.tlsState == nil && !c.loopback() {
		return fmt.Errorf("smtp: %s: refusing to send credentials without TLS", c.serverName)
	}
	mechs := strings.Fields(strings.ToUpper(c.ext["AUTH"]))
	has := func(m string) bool {
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	a := c.opts.Auth
	switch {
	case has("PLAIN"):
		// RFC 4616 2: authzid NUL authcid NUL passwd; sent as the initial
		// response (RFC 4954 4) to save a round trip.
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + a.Username + "\x00" + a.Password))
		r, err := c.cmdSecret(c.to.Command, "AUTH PLAIN "+ir)
		if err != nil {
			return err
		}
		if r.Code == 334 { // server wants the response separately
			if r, err = c.cmdSecret(c.to.Command, ir); err != nil {
				return err
			}
		}
		if r.Code != 235 {
			return &ReplyError{Command: "AUTH PLAIN", Reply: r}
		}
		return nil
	case has("LOGIN"):
		r, err := c.cmd(c.to.Command, "AUTH LOGIN")
		if err != nil {
			return err
		}
		for _, v := range []string{a.Username, a.Password} {
			if r.Code != 334 {
				return &ReplyError{Command: "AUTH LOGIN", Reply: r}
			}
			if r, err = c.cmdSecret(c.to.Command, base64.StdEncoding.EncodeToString([]byte(v))); err != nil {
				return err
			}
		}
		if r.Code != 235 {
			return &ReplyError{Command: "AUTH LOGIN", Reply: r}
		}
		return nil
	}
	return fmt.Errorf("smtp: %s offers no AUTH mechanism we support (have %q)", c.serverName, c.ext["AUTH"])
}

func (c *Client) loopback() bool {
	ap, err := netip.ParseAddrPort(c.conn.RemoteAddr().String())
	return err == nil && ap.Addr().IsLoopback()
}

// Extension reports whether the server offered an EHLO keyword, and its parameters.
func (c *Client) Extension(name string) (string, bool) {
	v, ok := c.ext[strings.ToUpper(name)]
	return v, ok
}

// TLSState reports the TLS state when the session is encrypted.
func (c *Client) TLSState() (tls.ConnectionState, bool) {
	if c.tlsState == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tlsState, true
}

// Greeting is the server's 220 reply.
func (c *Client) Greeting() Reply { return c.greeting }

// ServerName is the name New was given.
func (c *Client) ServerName() string { return c.serverName }

// RemoteAddr is the server's address.
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Usable reports whether another transaction may be sent on this session.
func (c *Client) Usable() bool { return c.broken == nil }

// Quit ends the session politely (RFC 5321 4.1.1.10) and closes the connection.
func (c *Client) Quit(ctx context.Context) error {
	if c.broken == nil {
		stop := c.watch(ctx)
		c.cmd(c.to.Command, "QUIT")
		stop()
	}
	return c.Close()
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	if c.broken == nil {
		c.broken = ErrBroken
	}
	return c.conn.Close()
}

// watch makes a cancelled ctx abort blocked I/O at once by moving the deadline
// to now; the returned func stops watching.
func (c *Client) watch(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.aborted = true
		c.conn.SetDeadline(time.Unix(1, 0))
	})
	return func() { stop() }
}

// errAborted is the I/O error of a call whose ctx was cancelled.
var errAborted = errors.New("smtp: aborted")

// setDeadline sets a read, write or both deadline d from now through set,
// unless the session was aborted.
func (c *Client) setDeadline(set func(time.Time) error, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.aborted {
		return errAborted
	}
	return set(time.Now().Add(d))
}

// cmd sends one command and reads its reply.
func (c *Client) cmd(timeout time.Duration, format string, args ...any) (Reply, error) {
	if err := c.write(format, args...); err != nil {
		return Reply{}, err
	}
	if err := c.flush(); err != nil {
		return Reply{}, err
	}
	return c.read(timeout)
}

// cmdSecret is cmd for a line that must not appear in errors (credentials).
func (c *Client) cmdSecret(timeout time.Duration, line string) (Reply, error) {
	return c.cmd(timeout, "%s", line)
}

// write queues one command line; commands never contain CR or LF (callers
// check addresses), so no injection of extra commands is possible.
func (c *Client) write(format string, args ...any) error {
	if c.broken != nil {
		return c.broken
	}
	fmt.Fprintf(c.bw, format, args...)
	_, err := c.bw.WriteString("\r\n")
	return c.fail(err)
}

func (c *Client) flush() error {
	if c.broken != nil {
		return c.broken
	}
	c.dc.timeout = c.to.Command
	return c.fail(c.bw.Flush())
}

func (c *Client) read(timeout time.Duration) (Reply, error) {
	if c.broken != nil {
		return Reply{}, c.broken
	}
	if err := c.setDeadline(c.conn.SetReadDeadline, timeout); err != nil {
		return Reply{}, c.fail(err)
	}
	r, err := readReply(c.br)
	if err != nil {
		return Reply{}, c.fail(err)
	}
	if r.Code == 421 {
		// RFC 5321 3.8: 421 means the server is closing the channel.
		c.broken = &ReplyError{Command: "session", Reply: r}
		c.conn.Close()
	}
	return r, nil
}

func (c *Client) fail(err error) error {
	if err != nil && c.broken == nil {
		c.broken = fmt.Errorf("smtp: %s: %w", c.serverName, err)
	}
	if err != nil {
		return c.broken
	}
	return nil
}

// deadlineConn sets a write deadline before every write, so that each block of
// message data gets its own RFC 5321 4.5.3.2.5 timeout rather than one for the
// whole message.
type deadlineConn struct {
	c       *Client
	timeout time.Duration
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	conn := d.c.conn
	if err := d.c.setDeadline(conn.SetWriteDeadline, d.timeout); err != nil {
		return 0, err
	}
	return conn.Write(p)
}

func (d *deadlineConn) Read(p []byte) (int, error) { return d.c.conn.Read(p) }

// parseSize reads the SIZE extension's parameter (RFC 1870 4); 0 = no limit.
func parseSize(params string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(params), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
