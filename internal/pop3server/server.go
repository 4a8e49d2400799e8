package pop3server

import (
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
	"gannet/internal/login"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It wraps
// net.ErrClosed, so callers that test for a closed listener see it too.
var ErrServerClosed = fmt.Errorf("pop3server: server closed: %w", net.ErrClosed)

// Defaults for zero Options fields.
const (
	// DefaultTimeout is the autologout timer: RFC 1939 3 asks for at least 10 minutes.
	DefaultTimeout = 10 * time.Minute
	// DefaultPreauthTimeout is the idle timeout before login: a client that
	// has not logged in within it is gone or is holding a slot for nothing.
	DefaultPreauthTimeout = time.Minute
	// DefaultMaxLine bounds a command line, CRLF included. RFC 2449 4 allows
	// 255 octets for a command; SASL responses (RFC 5034 4) may be longer.
	DefaultMaxLine = 4096
	// noticeTimeout bounds the write of a goodbye line (shutdown, idle timeout).
	noticeTimeout = 5 * time.Second
	// maxBadCommands is how many consecutive bad commands end a connection.
	maxBadCommands = 10
)

// Options configure a Server.
type Options struct {
	Store    store.Store
	Hostname string      // shown in the greeting; default "localhost"
	TLS      *tls.Config // enables STLS; nil = no STLS (implicit TLS is the listener's job)
	// Dev allows USER/PASS and AUTH without TLS from loopback addresses.
	Dev     bool
	Limiter *authlimit.Limiter // shared failed-login limiter; nil = a private one
	Login   *login.Service     // shared login service; nil = one over Store and Limiter
	Logger  *slog.Logger       // nil = discard
	Timeout time.Duration      // idle and I/O timeout; 0 = DefaultTimeout
	// PreauthTimeout is the idle timeout before login (AUTHORIZATION
	// state); 0 = DefaultPreauthTimeout. It is never longer than Timeout.
	PreauthTimeout time.Duration
	MaxLine        int // longest command line; 0 = DefaultMaxLine
	// LoginDelay is the minimum time between two logins to one account
	// (RFC 2449 6.5 LOGIN-DELAY); 0 = none.
	LoginDelay time.Duration
	Now        func() time.Time // clock; nil = time.Now
	// HandshakeTimeout bounds a TLS handshake (implicit or after STLS);
	// 0 = netserver.DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// Conns is the connection limiter shared by every listener of the
	// process; nil = none. Registry counts connections per protocol; nil =
	// a private one. TrustedProxies may send PROXY protocol headers.
	Conns          *connlimit.Limiter
	Registry       *netserver.Registry
	TrustedProxies []netip.Prefix
}

// refusal answers a connection over the limits (RFC 3206 SYS/TEMP).
var refusal = []byte("-ERR [SYS/TEMP] too many connections, try again later\r\n")

// Server is a POP3 server. It looks like http.Server: Serve, Shutdown, Close.
//
// Locking: mu guards every field below it. It is never held while doing I/O.
type Server struct {
	opts  Options
	log   *slog.Logger
	sizes *sizeCache

	// ns runs the listeners and connections: limits, PROXY, TLS
	// handshakes, Shutdown and Close, EndAccount.
	ns *netserver.Server

	// mu guards the LOGIN-DELAY table. The maildrop locks themselves are
	// the store's (store.Locker), so that they hold across every node
	// sharing the store; LOGIN-DELAY stays in this process's memory: it is
	// a courtesy bound on polling (RFC 2449 8.1.1), and a client that
	// reaches another node sooner costs that node one login, not a
	// correctness problem.
	mu        sync.Mutex
	lastLogin map[int64]time.Time // last login per account, kept only with LoginDelay
	loginGC   int                 // size of lastLogin at which stale entries are dropped
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
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PreauthTimeout <= 0 {
		opts.PreauthTimeout = DefaultPreauthTimeout
	}
	opts.PreauthTimeout = min(opts.PreauthTimeout, opts.Timeout)
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	opts.MaxLine = max(opts.MaxLine, 64)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger.With("proto", "pop3"),
		sizes:     newSizeCache(sizeCacheEntries),
		lastLogin: map[int64]time.Time{},
		loginGC:   1024,
	}
	s.ns = netserver.NewServer(netserver.ServerConfig{
		Config: netserver.Config{
			Proto: "pop3", Limiter: opts.Conns, Registry: opts.Registry, TrustedProxies: opts.TrustedProxies,
			Refusal: refusal, Logger: opts.Logger,
		},
		HandshakeTimeout: opts.HandshakeTimeout,
		NewHandler:       func(a *netserver.Accepted) netserver.Handler { return s.newConn(a) },
	})
	return s
}

// Serve accepts connections on ln until Shutdown or Close, and then returns
// ErrServerClosed. A listener made by netserver.TLSListener (or
// tls.NewListener) gives implicit TLS (RFC 8314, port 995). Serve closes ln
// when it returns.
func (s *Server) Serve(ln net.Listener) error {
	err := s.ns.Serve(ln)
	if errors.Is(err, netserver.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

func (s *Server) closing() bool { return s.ns.ShuttingDown() }

// Shutdown stops accepting, lets every connection finish the command it is
// running, tells each client that the server is going away (-ERR), and closes
// it; deletions not yet committed by QUIT are not committed (RFC 1939 6). If
// ctx ends first, the remaining connections are closed by force and ctx's error
// is returned.
func (s *Server) Shutdown(ctx context.Context) error { return s.ns.Shutdown(ctx) }

// Close closes every listener and connection at once, without goodbye, and
// cancels the work in progress. Nothing uncommitted is committed.
func (s *Server) Close() error { return s.ns.Close() }

// EndAccount ends every session logged in to the account at once (its
// account was deleted or disabled, or its password changed): the client gets
// an -ERR line and the connection is closed, without entering the UPDATE
// state, so messages marked with DELE stay (RFC 1939 6). It returns how many
// sessions it ended.
func (s *Server) EndAccount(accountID int64) int { return s.ns.EndAccount(accountID) }

// maildropKey names an account's maildrop lock in the store.
func maildropKey(accountID int64) string { return fmt.Sprintf("pop3 maildrop %d", accountID) }

// lockMaildrop takes the account's maildrop for c, or reports inUse when
// another session holds it, on this node or any other sharing the store
// (RFC 2449 8.1.2 IN-USE). With LoginDelay it also refuses a login that
// comes too soon after the previous one on this node (RFC 2449 8.1.1).
//
// If the store loses the lock while the session runs (a PostgreSQL node's
// lock connection broke: another node may now open the maildrop), the
// session is ended at once like an EndAccount, without entering the UPDATE
// state, so that two sessions never both commit deletions.
func (s *Server) lockMaildrop(c *conn, accountID int64) (inUse, tooSoon bool, err error) {
	l, ok, err := s.opts.Store.TryLock(c.ctx, maildropKey(accountID))
	if err != nil {
		return false, false, fmt.Errorf("maildrop lock: %w", err)
	}
	if !ok {
		return true, false, nil
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.opts.LoginDelay; d > 0 {
		if last, ok := s.lastLogin[accountID]; ok && now.Sub(last) < d {
			l.Release()
			return false, true, nil
		}
		s.lastLogin[accountID] = now
		// Drop stale entries now and then (amortised O(1)) so that the map
		// stays about the size of the accounts that logged in within LoginDelay.
		if len(s.lastLogin) >= s.loginGC {
			for id, t := range s.lastLogin {
				if now.Sub(t) >= d {
					delete(s.lastLogin, id)
				}
			}
			s.loginGC = max(1024, 2*len(s.lastLogin))
		}
	}
	c.lock = l
	c.unlocked = make(chan struct{})
	go watchLock(c, l, c.unlocked)
	// An EndAccount since the login command began ends the session at once.
	s.ns.LoggedIn(c.acc, accountID, c.cmdStart)
	return false, false, nil
}

// watchLock ends c's session if its maildrop lock is lost before c
// releases it.
func watchLock(c *conn, l store.Lock, unlocked <-chan struct{}) {
	select {
	case <-unlocked:
	case <-l.Lost():
		c.lockLost.Store(true)
		c.End()
	}
}

// unlockMaildrop releases c's maildrop lock, if it holds one.
func (s *Server) unlockMaildrop(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.lock != nil {
		close(c.unlocked)
		c.lock.Release()
		c.lock, c.unlocked = nil, nil
		s.ns.SetAccount(c.acc, 0)
	}
}

// activeConns reports how many connections are being served (for tests).
func (s *Server) activeConns() int { return s.ns.Len() }
