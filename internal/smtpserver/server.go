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
//   - Connections come through internal/netserver, like IMAP's and POP3's: the
//     shared connection limits (a refused client gets 421 4.7.0, inside TLS on
//     port 465), PROXY headers from trusted proxies only (the client's address
//     is then what limits, logs and Received see), TLS handshakes under a short
//     deadline (implicit, and after STARTTLS), the registry of live
//     connections and of logged-in accounts (EndAccount), panic recovery.
//   - AUTH goes through internal/login, like every protocol's login: the
//     failed-login limiter counts attempts in flight, password hashing runs
//     under the service's cap, and the outcome becomes 235, 535 5.7.8, 454
//     4.7.0 or 421 (shutting down). A failed login's user name is never logged.
//   - Shutdown closes the listeners, lets a command in progress (a message being
//     received or delivered) finish, answers every idle or finished connection
//     with 421 and closes it; when its context ends it closes what is left.
//     Close and Shutdown return only once no session work touches the store.
//   - A panic in a session is recovered by netserver: logged with its stack,
//     answered 421 4.0.0, the connection closed; others go on.
//   - The Server has no global state; connections share only the Deliverer, the
//     store, the login service and the limiters, all safe for concurrent use.
package smtpserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/connlimit"
	"gannet/internal/delivery"
	"gannet/internal/login"
	"gannet/internal/mailauth"
	"gannet/internal/netserver"
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
	// TLS enables STARTTLS (RFC 3207). Implicit TLS (port 465, RFC 8314) is
	// the listener's job: pass Serve a netserver.TLSListener (or a
	// tls.NewListener, which cannot take PROXY headers).
	TLS *tls.Config
	// Dev allows AUTH without TLS from loopback addresses.
	Dev bool
	// Limiter counts failed logins; nil uses a private one with defaults.
	Limiter *authlimit.Limiter
	// Login is the login service shared by every protocol of the process;
	// nil = one over Store and Limiter.
	Login  *login.Service
	Logger *slog.Logger
	// MaxMessageBytes is the SIZE limit (RFC 1870), enforced while reading.
	MaxMessageBytes int64
	// MaxRecipients per transaction; more get 452 4.5.3 (RFC 5321 4.5.3.1.10).
	MaxRecipients int
	// MaxLineLength bounds command and message lines, in octets.
	MaxLineLength int
	// Timeout bounds each command line and reply, and each pause while a
	// message is received (RFC 5321 4.5.3.2).
	Timeout time.Duration
	// DataTimeout bounds the whole reception of one message with DATA, and
	// of one BDAT chunk.
	DataTimeout time.Duration
	// HandshakeTimeout bounds a TLS handshake (implicit or after STARTTLS);
	// 0 = netserver.DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Conns is the connection limiter shared by every listener of the
	// process; nil = none. Further connections get 421 4.7.0 and are
	// closed. Registry counts connections per protocol; nil = a private one.
	// TrustedProxies may send PROXY protocol headers.
	Conns          *connlimit.Limiter
	Registry       *netserver.Registry
	TrustedProxies []netip.Prefix
	// Checker, on the MX, evaluates SPF, DKIM and DMARC for mail from
	// unauthenticated clients after DATA (RFC 7208, 6376, 7489) and stamps
	// Authentication-Results (RFC 8601); nil skips the checks.
	Checker *mailauth.Checker
	// FreeSpace reports the bytes free where messages are stored; nil skips
	// the check that MAIL makes (space.go).
	FreeSpace func() (int64, error)
}

// Refusal is SMTP's answer to a connection over the limits: RFC 5321 3.1
// allows 421 instead of the greeting; RFC 3463 4.7.0.
func Refusal(hostname string) []byte {
	return []byte("421 4.7.0 " + hostname + " Too many connections, try again later\r\n")
}

// Server is an SMTP server. Create it with New. It looks like http.Server:
// Serve, Shutdown, Close.
type Server struct {
	opts  Options
	log   *slog.Logger
	space spaceCheck

	// ns runs the listeners and connections: limits, PROXY, TLS
	// handshakes, Shutdown and Close, EndAccount, panic recovery.
	ns *netserver.Server

	mu   sync.Mutex
	busy int           // session work doing store or queue work
	idle chan struct{} // made when busy leaves 0, closed when it returns to 0

	// sleep waits before answering a harvester's RCPT; tests replace it to
	// observe delays. (AUTH's delays are the login service's.)
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
	if o.Limiter == nil {
		o.Limiter = authlimit.New(authlimit.Config{})
	}
	if o.Login == nil {
		o.Login = login.New(o.Store, o.Limiter, login.Config{Logger: o.Logger})
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:  o,
		log:   log.With("proto", o.Mode.String()),
		sleep: sleepCtx,
	}
	s.ns = netserver.NewServer(netserver.ServerConfig{
		Config: netserver.Config{
			Proto: o.Mode.String(), Limiter: o.Conns, Registry: o.Registry, TrustedProxies: o.TrustedProxies,
			Refusal: Refusal(o.Hostname), Logger: log,
		},
		HandshakeTimeout: o.HandshakeTimeout,
		NewHandler:       func(a *netserver.Accepted) netserver.Handler { return s.newConn(a) },
	})
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

// Serve accepts connections on ln until Shutdown or Close, then returns
// ErrServerClosed. ln may be a plain TCP listener (MX, port 587), or one
// made by netserver.TLSListener or tls.NewListener (port 465). Serve closes
// ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	if s.ns.ShuttingDown() {
		ln.Close()
		return ErrServerClosed
	}
	err := s.ns.Serve(ln)
	if errors.Is(err, netserver.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, lets commands in progress finish, answers 421 to
// every client as soon as it is between commands, and waits for all
// connections to end. When ctx ends first it closes the remaining connections
// and returns ctx's error. One Server may serve several listeners (587 and
// 465), so Shutdown may be called more than once: every call waits.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.ns.Shutdown(ctx); err != nil {
		// netserver closed what was left and waited for every connection's
		// goroutine: no session work remains.
		return fmt.Errorf("smtpserver: shutdown: %w", err)
	}
	return nil
}

// Close closes the listeners and every connection at once, cancels work in
// progress and waits for session work (store and queue writes) to return,
// so that nothing writes to the store after Close returned.
func (s *Server) Close() error {
	s.ns.Close()
	s.waitIdle()
	return nil
}

// EndAccount ends every authenticated session of the account: each gets
// 421 4.7.0 and is closed at once, even in the middle of a message (whose
// delivery, if it already began, completes first). An AUTH of the account
// under way ends the same way when it succeeds. It returns how many sessions
// it ended; one already ending is not counted again. Call it when an
// account is deleted or disabled or its password changes.
func (s *Server) EndAccount(accountID int64) int {
	n := s.ns.EndAccount(accountID)
	if n > 0 {
		s.log.Info("ended sessions", "account_id", accountID, "count", n)
	}
	return n
}

// begin marks the start of session work that touches the store or the queue;
// it fails once Close began (or a Shutdown ran out of time), so that nothing
// writes to the store after Close returned.
func (s *Server) begin() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Checked under mu: Close cancels this context before waitIdle takes
	// mu, so work that began before is waited for and none begins after.
	if s.ns.Context().Err() != nil {
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
func (s *Server) waitIdle() {
	for {
		s.mu.Lock()
		if s.busy == 0 {
			s.mu.Unlock()
			return
		}
		idle := s.idle
		s.mu.Unlock()
		<-idle
	}
}
