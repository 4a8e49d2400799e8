package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/connlimit"
	"gannet/internal/imapwire"
	"gannet/internal/login"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It wraps
// net.ErrClosed.
var ErrServerClosed = fmt.Errorf("imapserver: server closed: %w", net.ErrClosed)

// Defaults for zero Options fields.
const (
	// DefaultIdleTimeout is the autologout timer after login: RFC 9051 5.4
	// asks for at least 30 minutes.
	DefaultIdleTimeout = 30 * time.Minute
	// DefaultPreauthTimeout is the autologout timer before login.
	DefaultPreauthTimeout = time.Minute
	// DefaultWriteTimeout bounds every write to a client.
	DefaultWriteTimeout = 2 * time.Minute
	// DefaultMaxLiteral is the largest APPEND (APPENDLIMIT, RFC 7889).
	DefaultMaxLiteral = 50 << 20
	// noticeTimeout bounds the write of a last BYE.
	noticeTimeout = 5 * time.Second
	// maxBadPreauth is how many BAD answers end a connection before login.
	maxBadPreauth = 3
	// maxBadAuth is how many consecutive BAD answers end one after login.
	maxBadAuth = 20
	// readBufSize is the per-connection read buffer: small, since idle
	// connections keep it; longer lines and literals are read through it.
	readBufSize = 2048
	// writeBufSize is the pooled write buffer of a running command.
	writeBufSize = 16 << 10
)

// Options configure a Server.
type Options struct {
	Store    store.Store // required
	Hostname string      // in the greeting; default "localhost"
	// TLS enables STARTTLS; nil = none. Implicit TLS (port 993) is the
	// listener's job: pass a tls.NewListener to Serve.
	TLS *tls.Config
	// Dev allows LOGIN and AUTHENTICATE without TLS from loopback addresses.
	// Otherwise they need TLS (LOGINDISABLED, RFC 9051 6.2.3).
	Dev     bool
	Limiter *authlimit.Limiter // shared failed-login limiter; nil = a private one
	Login   *login.Service     // shared login service; nil = one over Store and Limiter
	Logger  *slog.Logger       // nil = discard
	// MaxLine is the longest command line; 0 = imapwire.DefaultMaxLine.
	MaxLine int
	// MaxLiteral is the largest APPEND message (APPENDLIMIT); 0 = DefaultMaxLiteral.
	MaxLiteral int64
	// IdleTimeout and PreauthTimeout are the autologout timers after and
	// before login; WriteTimeout bounds each write.
	IdleTimeout    time.Duration
	PreauthTimeout time.Duration
	WriteTimeout   time.Duration
	// HandshakeTimeout bounds a TLS handshake (implicit or after STARTTLS);
	// 0 = netserver.DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Conns is the connection limiter shared by every listener of the
	// process; nil = none. Registry counts connections per protocol; nil =
	// a private one. TrustedProxies may send PROXY protocol headers.
	Conns          *connlimit.Limiter
	Registry       *netserver.Registry
	TrustedProxies []netip.Prefix
}

// refusal answers a connection over the limits (RFC 9051 7.1.5 BYE, RFC 5530
// UNAVAILABLE).
var refusal = []byte("* BYE [UNAVAILABLE] Too many connections; try again later\r\n")

// Server is an IMAP server. It looks like http.Server: Serve, Shutdown, Close.
type Server struct {
	opts Options
	log  *slog.Logger
	caps capabilities

	// ns runs the listeners and connections: limits, PROXY, TLS
	// handshakes, Shutdown and Close, EndAccount.
	ns *netserver.Server

	ctx      context.Context // the change feed's; cancelled by stopFeed
	cancel   context.CancelFunc
	feedOnce sync.Once
	feedDone chan struct{} // closed when the dispatcher ends

	// wpool holds *bufio.Writer of writeBufSize for running commands.
	wpool sync.Pool

	mu        sync.RWMutex
	byAccount map[int64]map[*conn]struct{} // logged-in sessions, for push
}

// New returns a Server. Options.Store is required.
func New(opts Options) *Server {
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.Limiter == nil {
		opts.Limiter = authlimit.New(authlimit.Config{})
	}
	if opts.Login == nil {
		opts.Login = login.New(opts.Store, opts.Limiter, login.Config{Logger: opts.Logger})
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = imapwire.DefaultMaxLine
	}
	// RFC 7162 4: lines of at least 8192 octets.
	opts.MaxLine = max(opts.MaxLine, 8192)
	if opts.MaxLiteral <= 0 {
		opts.MaxLiteral = DefaultMaxLiteral
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.PreauthTimeout <= 0 {
		opts.PreauthTimeout = DefaultPreauthTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:      opts,
		log:       opts.Logger.With("proto", "imap"),
		ctx:       ctx,
		cancel:    cancel,
		feedDone:  make(chan struct{}),
		byAccount: map[int64]map[*conn]struct{}{},
	}
	s.ns = netserver.NewServer(netserver.ServerConfig{
		Config: netserver.Config{
			Proto: "imap", Limiter: opts.Conns, Registry: opts.Registry, TrustedProxies: opts.TrustedProxies,
			Refusal: refusal, Logger: opts.Logger,
		},
		HandshakeTimeout: opts.HandshakeTimeout,
		NewHandler:       func(a *netserver.Accepted) netserver.Handler { return s.newConn(a) },
	})
	s.caps = newCapabilities(opts)
	s.wpool.New = func() any { return bufio.NewWriterSize(nil, writeBufSize) }
	return s
}

// Serve accepts connections on ln until Shutdown or Close and then returns
// ErrServerClosed. A listener from netserver.TLSListener (or tls.NewListener)
// gives implicit TLS (RFC 8314). Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	if s.ns.ShuttingDown() {
		ln.Close()
		return ErrServerClosed
	}
	s.feedOnce.Do(func() {
		sub := s.opts.Store.Subscribe(0)
		go s.dispatch(sub)
	})
	err := s.ns.Serve(ln)
	if errors.Is(err, netserver.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, lets every connection finish the command it is
// running (a session waiting for a command or in IDLE is interrupted at
// once), sends "* BYE" and closes it. If ctx ends first, the remaining
// connections are closed by force and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.ns.Shutdown(ctx)
	s.stopFeed()
	return err
}

// Close closes every listener and connection at once, without BYE, and
// cancels the work in progress.
func (s *Server) Close() error {
	s.ns.Close()
	s.stopFeed()
	return nil
}

// EndAccount ends every session logged in to the account at once (its
// account was deleted or disabled, or its password changed): the command
// running is cut short, the client gets "* BYE" and the connection is
// closed. It returns how many sessions it ended.
func (s *Server) EndAccount(accountID int64) int {
	return s.ns.EndAccount(accountID)
}

// stopFeed cancels the server context and waits for the dispatcher, if it
// was started. If it was not, feedOnce closes feedDone here, so that every
// concurrent caller (Shutdown and Close may run together) sees it closed; a
// caller that found feedOnce used by another stopFeed used to wait forever.
func (s *Server) stopFeed() {
	s.cancel()
	s.feedOnce.Do(func() { close(s.feedDone) })
	<-s.feedDone
}

func (s *Server) closing() bool { return s.ns.ShuttingDown() }

// unregister removes a finished connection from the push index.
func (s *Server) unregister(c *conn) {
	if c.acct == nil {
		return
	}
	s.mu.Lock()
	if set := s.byAccount[c.acct.ID]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(s.byAccount, c.acct.ID)
		}
	}
	s.mu.Unlock()
}

// register makes a logged-in session visible to the dispatcher and to
// EndAccount.
func (s *Server) register(c *conn) {
	s.mu.Lock()
	set := s.byAccount[c.acct.ID]
	if set == nil {
		set = map[*conn]struct{}{}
		s.byAccount[c.acct.ID] = set
	}
	set[c] = struct{}{}
	s.mu.Unlock()
	// An EndAccount since the LOGIN began ends the session at once.
	s.ns.LoggedIn(c.acc, c.acct.ID, c.cmdStart)
}

func (s *Server) getWriter() *bufio.Writer { return s.wpool.Get().(*bufio.Writer) }

func (s *Server) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	s.wpool.Put(bw)
}
