// Package smtpserver is Gannet's SMTP server, on its own protocol loop over the
// codec in internal/smtp, in two modes: the MX (RFC 5321, port 25) that
// accepts mail for local recipients only, and submission (RFC 6409, ports 587
// with STARTTLS and 465 with implicit TLS, RFC 8314) for authenticated users.
//
// Invariants:
//   - 250 after DATA/BDAT LAST is sent only after delivery.Deliver returned,
//     that is after the store commit (and the queue's) is durable.
//   - A message is refused (5xx), never normalised, when it holds a CR or LF
//     that is not part of a CRLF pair; DATA ends only at CRLF "." CRLF (or "."
//     CRLF as its first line), so a smuggled "\n.\n" cannot end a message early.
//   - Message buffers grow only from the bytes that arrive, never from what
//     the client announces (SIZE=, BDAT sizes).
//   - The MX never relays: without authentication only local recipients pass.
//     AUTH is offered on submission only, and only under TLS (or from loopback
//     in Dev mode).
//   - Every read and write has a deadline: a command line must arrive whole
//     within Timeout of the wait's start; message data may pause at most
//     Timeout, and one message may take at most DataTimeout.
//   - Replies are buffered and flushed only when the client has nothing more
//     pipelined, that is before a read that would wait for the network
//     (RFC 2920 3.1).
//   - After STARTTLS, nothing read before the handshake is used (RFC 3207 4.2).
//   - Connections are counted per client IP below TLS (connlimit); each
//     connection's slot is returned when it closes.
//   - Shutdown closes the listeners, lets a command in progress (a message being
//     received or delivered) finish, answers every idle or finished connection
//     with 421 and closes it; when its context ends it closes what is left.
//   - A panic in a command is recovered: 421, close, log; others go on.
//   - The Server has no global state; connections share only the Deliverer, the
//     store and the limiters, all safe for concurrent use.
package smtpserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/connlimit"
	"gannet/internal/delivery"
	"gannet/internal/mailauth"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It wraps
// net.ErrClosed.
var ErrServerClosed = fmt.Errorf("smtpserver: server closed: %w", net.ErrClosed)

// Mode selects what the server is for.
type Mode int

const (
	// MX receives mail from the world for local recipients (RFC 5321).
	MX Mode = iota + 1
	// Submission takes mail from authenticated users (RFC 6409).
	Submission
)

func (m Mode) String() string {
	switch m {
	case MX:
		return "smtp"
	case Submission:
		return "submission"
	}
	return "unknown"
}

// Defaults for zero Options fields.
const (
	DefaultMaxMessageBytes = 50 << 20
	DefaultMaxRecipients   = 1000
	DefaultMaxLineLength   = 64 << 10
	DefaultTimeout         = 5 * time.Minute // RFC 5321 4.5.3.2.7
	DefaultDataTimeout     = 30 * time.Minute
)

// Options configure a Server.
type Options struct {
	Mode      Mode
	Hostname  string // our name in the greeting and Received fields
	Store     store.Store
	Deliverer *delivery.Deliverer
	// TLS enables STARTTLS (RFC 3207). It is also the configuration used for
	// connections from a listener made by tls.NewListener (implicit TLS): Serve
	// re-creates them over its own accounting of the raw connection.
	TLS *tls.Config
	// Dev allows AUTH without TLS from loopback addresses.
	Dev bool
	// Limiter counts failed logins; nil uses a private one with defaults.
	Limiter *authlimit.Limiter
	Logger  *slog.Logger
	// MaxMessageBytes is the SIZE limit (RFC 1870), enforced while reading.
	MaxMessageBytes int64
	// MaxRecipients per transaction; more get 452 4.5.3 (RFC 5321 4.5.3.1.10).
	MaxRecipients int
	// MaxLineLength bounds command and message lines, in octets.
	MaxLineLength int
	// MaxConnsPerIP bounds concurrent connections per client address; 0 = no
	// limit. Further connections get 421 4.7.0 and are closed.
	MaxConnsPerIP int
	// Timeout bounds each command line and reply, and each pause while a
	// message is received (RFC 5321 4.5.3.2).
	Timeout time.Duration
	// DataTimeout bounds the whole reception of one message with DATA, and
	// of one BDAT chunk.
	DataTimeout time.Duration
	// Checker, on the MX, evaluates SPF, DKIM and DMARC for mail from
	// unauthenticated clients after DATA (RFC 7208, 6376, 7489) and stamps
	// Authentication-Results (RFC 8601); nil skips the checks.
	Checker *mailauth.Checker
	// FreeSpace reports the bytes free where messages are stored; nil skips
	// the check that MAIL makes (space.go).
	FreeSpace func() (int64, error)
}

// Server is an SMTP server. Create it with New.
type Server struct {
	opts    Options
	log     *slog.Logger
	authLim *authlimit.Limiter
	connLim *connlimit.Limiter
	// scramSecret keys SCRAM's fake credentials for unknown users (see
	// sasl.NewSCRAMSHA256); random per server.
	scramSecret []byte
	space       spaceCheck

	ctx    context.Context // parent of every session's work; cancelled by Close and at the end of Shutdown
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners []*listener
	conns     map[*conn]struct{}
	shutting  bool
	shutdown  chan struct{} // made by the first Shutdown, closed when it returns
	gone      chan struct{} // made by Shutdown, closed when the last connection ends
	busy      int           // session work doing store or queue work
	idle      chan struct{} // made when busy leaves 0, closed when it returns to 0

	// sleep waits before an AUTH answer and before answering a harvester's
	// RCPT; tests replace it to observe delays.
	sleep func(ctx context.Context, d time.Duration)
}

// New returns a server; it does nothing until Serve.
func New(o Options) *Server {
	if o.Mode != Submission {
		o.Mode = MX
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = DefaultMaxRecipients
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = DefaultMaxLineLength
	}
	// RFC 5321 4.5.3.1.4-6: a command line may be 512 octets, a text line
	// 1000; less would refuse conforming clients.
	o.MaxLineLength = max(o.MaxLineLength, 1000)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.DataTimeout <= 0 {
		o.DataTimeout = DefaultDataTimeout
	}
	o.DataTimeout = max(o.DataTimeout, o.Timeout)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	log = log.With("proto", o.Mode.String())
	s := &Server{
		opts:    o,
		log:     log,
		authLim: o.Limiter,
		connLim: connlimit.New(o.MaxConnsPerIP),
		conns:   map[*conn]struct{}{},
		sleep:   sleepCtx,
	}
	s.scramSecret = make([]byte, 32)
	rand.Read(s.scramSecret) // never fails (crypto/rand, Go 1.24+)
	if s.authLim == nil {
		s.authLim = authlimit.New(authlimit.Config{})
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// listener is a listener given to Serve, closed once by whoever comes first.
type listener struct {
	net.Listener
	once sync.Once
}

func (l *listener) Close() error {
	var err error
	l.once.Do(func() { err = l.Listener.Close() })
	return err
}

// Serve accepts connections on ln until Shutdown or Close. ln may be a plain
// TCP listener (MX, port 587) or one made by tls.NewListener (port 465).
func (s *Server) Serve(ln net.Listener) error {
	l := &listener{Listener: ln}
	s.mu.Lock()
	if s.shutting {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	defer l.Close()
	var backoff time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			shutting := s.shutting
			s.mu.Unlock()
			if shutting || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			// Out of file descriptors and the like: wait, then try again,
			// rather than spin (as net/http does).
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept", "err", err, "retry_in", backoff)
			sleepCtx(s.ctx, backoff)
			continue
		}
		backoff = 0
		s.accept(c)
	}
}

// accept takes a new connection: a TLS listener's connection is taken apart
// so that the per-IP count and our deadlines work below TLS; the handshake
// runs in the connection's goroutine.
func (s *Server) accept(c net.Conn) {
	raw, implicit := c, false
	if tc, ok := c.(*tls.Conn); ok {
		// No I/O has happened on tc yet: tls.NewListener's Accept only wraps.
		raw, implicit = tc.NetConn(), true
	}
	if implicit && s.opts.TLS == nil {
		s.log.Error("TLS listener but Options.TLS is nil; closing connection")
		raw.Close()
		return
	}
	limited, ok := s.connLim.Wrap(raw)
	if !ok {
		s.log.Info("too many connections", "remote", raw.RemoteAddr().String())
		go s.reject(raw, implicit)
		return
	}
	go s.serveConn(s.ctx, limited, implicit)
}

// reject refuses a connection over the per-IP limit: 421 on plain SMTP
// (RFC 5321 3.1 allows 421 instead of the greeting); under implicit TLS a
// handshake would cost more than the refusal is worth, so it is just closed.
func (s *Server) reject(c net.Conn, implicit bool) {
	defer c.Close()
	if implicit {
		return
	}
	c.SetWriteDeadline(time.Now().Add(min(s.opts.Timeout, 10*time.Second)))
	r := smtp.TooManyConnections()
	io.WriteString(c, fmt.Sprintf("%d %s %s %s\r\n", r.Code, r.Enhanced, s.opts.Hostname, r.Text))
}

// stop marks the server as shutting down, closes its listeners and, when
// drain is set, drains every connection.
func (s *Server) stop(drain bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutting = true
	for _, l := range s.listeners {
		l.Close()
	}
	s.listeners = nil
	if drain {
		for c := range s.conns {
			c.drain()
		}
	}
}

// Shutdown stops accepting, lets commands in progress finish, answers 421 to
// every client as soon as it is between commands, and waits for all
// connections to end. When ctx ends first it closes the remaining connections
// and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	// One Server may be bound to several listeners (587 and 465), so Shutdown
	// may be called more than once: later calls wait for the first.
	s.mu.Lock()
	if s.shutdown != nil {
		done := s.shutdown
		s.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("smtpserver: shutdown: %w", ctx.Err())
		}
	}
	s.shutdown = make(chan struct{})
	done := s.shutdown
	s.mu.Unlock()
	defer close(done)

	s.stop(true)
	// No connection is tracked from here on (track refuses while shutting).
	s.mu.Lock()
	s.gone = make(chan struct{})
	if len(s.conns) == 0 {
		close(s.gone)
	}
	gone := s.gone
	s.mu.Unlock()
	select {
	case <-gone:
	case <-ctx.Done():
		s.closeConns()
		s.cancel()
		s.waitIdle(context.Background())
		return fmt.Errorf("smtpserver: shutdown: %w", ctx.Err())
	}
	if err := s.waitIdle(ctx); err != nil {
		s.cancel()
		return fmt.Errorf("smtpserver: shutdown: %w", err)
	}
	s.cancel()
	return nil
}

// Close closes the listeners and every connection at once, cancels work in
// progress and waits for session work to return.
func (s *Server) Close() error {
	s.stop(false)
	s.closeConns()
	s.cancel()
	s.waitIdle(context.Background())
	return nil
}

func (s *Server) closeConns() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

// track registers a connection; it fails once the server is shutting down.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutting {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if len(s.conns) == 0 && s.gone != nil {
		select {
		case <-s.gone:
		default:
			close(s.gone)
		}
	}
}

// EndAccount ends every authenticated session of the account: each gets
// 421 4.7.0 and is closed at once, even in the middle of a message (whose
// delivery, if it already began, completes first). It returns how many
// sessions it ended; one already ending is not counted again. Call it when an
// account is deleted or disabled or its password changes.
func (s *Server) EndAccount(accountID int64) int {
	s.mu.Lock()
	var hit []*conn
	for c := range s.conns {
		if c.accountID() == accountID {
			hit = append(hit, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range hit {
		if c.end(smtp.NewReply(421, smtp.EnhancedCode{4, 7, 0}, "Your session has ended, log in again")) {
			n++
		}
	}
	if n > 0 {
		s.log.Info("ended sessions", "account_id", accountID, "count", n)
	}
	return n
}

// begin marks the start of session work that touches the store or the queue;
// it fails once Close began, so that nothing writes to the store after Close
// returned.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	if s.busy == 0 {
		s.idle = make(chan struct{})
	}
	s.busy++
	return true
}

func (s *Server) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if s.busy == 0 {
		close(s.idle)
	}
}

// waitIdle waits until no session work is in progress.
func (s *Server) waitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.busy == 0 {
			s.mu.Unlock()
			return nil
		}
		idle := s.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
