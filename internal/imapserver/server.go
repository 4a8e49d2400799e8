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
	"sync"
	"sync/atomic"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/imapwire"
	"gannet/internal/login"
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
}

// Server is an IMAP server. It looks like http.Server: Serve, Shutdown, Close.
type Server struct {
	opts Options
	log  *slog.Logger
	caps capabilities

	ctx    context.Context // parent of every connection's context
	cancel context.CancelFunc
	nextID atomic.Uint64

	inShutdown atomic.Bool
	feedOnce   sync.Once
	feedDone   chan struct{} // closed when the dispatcher ends

	// wpool holds *bufio.Writer of writeBufSize for running commands.
	wpool sync.Pool

	mu        sync.RWMutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	byAccount map[int64]map[*conn]struct{} // logged-in sessions, for push
	wg        sync.WaitGroup               // one count per connection
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
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		byAccount: map[int64]map[*conn]struct{}{},
	}
	s.caps = newCapabilities(opts)
	s.wpool.New = func() any { return bufio.NewWriterSize(nil, writeBufSize) }
	return s
}

// Serve accepts connections on ln until Shutdown or Close and then returns
// ErrServerClosed. A listener from tls.NewListener gives implicit TLS (RFC
// 8314). Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	s.feedOnce.Do(func() {
		sub := s.opts.Store.Subscribe(0)
		go s.dispatch(sub)
	})

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			// Out of file descriptors and the like: wait and retry, as http.Server does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return ErrServerClosed
			}
			continue
		}
		backoff = 0
		c := s.newConn(nc)
		s.mu.Lock()
		if s.inShutdown.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, lets every connection finish the command it is
// running (a session waiting for a command or in IDLE is interrupted at
// once), sends "* BYE" and closes it. If ctx ends first, the remaining
// connections are closed by force and ctx's error is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.inShutdown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.interrupt()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.stopFeed()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes every listener and connection at once, without BYE, and
// cancels the work in progress.
func (s *Server) Close() error {
	s.mu.Lock()
	s.inShutdown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.raw.Close()
	}
	s.mu.Unlock()
	s.stopFeed()
	return nil
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

func (s *Server) closing() bool { return s.inShutdown.Load() }

// forget removes a finished connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.acct != nil {
		if set := s.byAccount[c.acct.ID]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(s.byAccount, c.acct.ID)
			}
		}
	}
	s.mu.Unlock()
	s.wg.Done()
}

// register makes a logged-in session visible to the dispatcher.
func (s *Server) register(c *conn) {
	s.mu.Lock()
	set := s.byAccount[c.acct.ID]
	if set == nil {
		set = map[*conn]struct{}{}
		s.byAccount[c.acct.ID] = set
	}
	set[c] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) getWriter() *bufio.Writer { return s.wpool.Get().(*bufio.Writer) }

func (s *Server) putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	s.wpool.Put(bw)
}
