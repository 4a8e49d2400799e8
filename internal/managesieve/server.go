// Package managesieve is Gannet's ManageSieve server (RFC 5804): clients
// (Thunderbird's Sieve add-on, sieve-connect, Roundcube's managesieve
// plugin) list, upload, check, activate, rename and delete the account's
// Sieve scripts, which delivery runs (docs/ARCHITECTURE.md, "Sieve in
// delivery"). Scripts live in the store (store.SieveStore) and are compiled
// by the same engine on upload, so a script this server accepts is one
// delivery can run.
//
// Invariants: logins go through the shared login service (failed-login
// limiter, bounded hashing); credentials are accepted only over TLS (or from
// loopback in dev mode, RFC 5804 2.1); every read and write has a deadline;
// a command line is bounded (MaxLine octets outside literals) and a literal
// by MaxScript, so memory per connection is bounded; the connection layer
// (limits, PROXY, Shutdown, EndAccount) is netserver's.
package managesieve

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/connlimit"
	"gannet/internal/login"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// Defaults of Options.
const (
	DefaultTimeout        = 30 * time.Minute
	DefaultPreauthTimeout = time.Minute
	DefaultMaxLine        = 8 << 10
	DefaultMaxScript      = 1 << 20 // the engine's own bound (sieve.Options.MaxScriptSize)
	noticeTimeout         = 5 * time.Second
	maxBadCommands        = 10
)

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("managesieve: server closed")

// Options configure a Server.
type Options struct {
	Store    store.Store
	Hostname string      // in the greeting's implementation string; default "localhost"
	TLS      *tls.Config // enables STARTTLS (RFC 5804 2.2); nil = none
	// Dev allows AUTHENTICATE without TLS from loopback addresses.
	Dev     bool
	Limiter *authlimit.Limiter // shared failed-login limiter; nil = a private one
	Login   *login.Service     // shared login service; nil = one over Store and Limiter
	Logger  *slog.Logger       // nil = discard
	// Timeout is the idle timeout once logged in, PreauthTimeout before.
	Timeout, PreauthTimeout time.Duration
	MaxLine                 int // octets of a command outside literals; 0 = DefaultMaxLine
	MaxScript               int // octets of a literal; 0 = DefaultMaxScript
	HandshakeTimeout        time.Duration
	Conns                   *connlimit.Limiter
	Registry                *netserver.Registry
	TrustedProxies          []netip.Prefix
}

// refusal answers a connection over the limits (RFC 5804 1.3 BYE, TRYLATER).
var refusal = []byte("BYE (TRYLATER) \"Too many connections, try again later\"\r\n")

// Server is a ManageSieve server. It looks like http.Server: Serve,
// Shutdown, Close. It keeps no state of its own beyond netserver's registry.
type Server struct {
	opts Options
	log  *slog.Logger
	ns   *netserver.Server
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
	if opts.MaxScript <= 0 {
		opts.MaxScript = DefaultMaxScript
	}
	s := &Server{opts: opts, log: opts.Logger.With("proto", "managesieve")}
	s.ns = netserver.NewServer(netserver.ServerConfig{
		Config: netserver.Config{
			Proto: "managesieve", Limiter: opts.Conns, Registry: opts.Registry, TrustedProxies: opts.TrustedProxies,
			Refusal: refusal, Logger: opts.Logger,
		},
		HandshakeTimeout: opts.HandshakeTimeout,
		NewHandler:       func(a *netserver.Accepted) netserver.Handler { return s.newConn(a) },
	})
	return s
}

// Serve accepts connections on ln until Shutdown or Close, then returns
// ErrServerClosed. Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	err := s.ns.Serve(ln)
	if errors.Is(err, netserver.ErrServerClosed) {
		return ErrServerClosed
	}
	return err
}

// Shutdown stops accepting, lets each connection finish its command, says
// BYE and closes; when ctx ends first the rest are closed by force.
func (s *Server) Shutdown(ctx context.Context) error { return s.ns.Shutdown(ctx) }

// Close closes every listener and connection at once.
func (s *Server) Close() error { return s.ns.Close() }

// EndAccount ends every session of the account (deleted, disabled, new
// password) with a BYE, and returns how many there were.
func (s *Server) EndAccount(accountID int64) int { return s.ns.EndAccount(accountID) }
