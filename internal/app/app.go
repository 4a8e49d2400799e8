// Package app wires configuration, the store and the protocol servers together
// and owns the listeners. Only cmd/gannet imports it.
//
// Invariants: servers are started only after the store is open and the configured
// domains exist; Run returns after every server has shut down and the store is
// closed, so that nothing writes to the store after Run returns.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/config"
	"gannet/internal/connlimit"
	"gannet/internal/delivery"
	"gannet/internal/mailauth"
	"gannet/internal/netserver"
	"gannet/internal/queue"
	"gannet/internal/store"
)

// Server is what every protocol server looks like (docs/ARCHITECTURE.md, "Servers look like http.Server").
type Server interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
}

// Listener is one server bound to one address, for reporting.
type Listener struct {
	Name string // e.g. "imap"
	Addr string // the bound address
}

type bound struct {
	Listener
	ln  net.Listener
	srv Server
}

// App is a running Gannet: store plus servers.
type App struct {
	Config *config.Config
	Store  store.Store
	Log    *slog.Logger
	TLS    *tls.Config // nil when no certificate is configured
	Queue  *queue.Queue
	// Checker evaluates SPF, DKIM and DMARC on the MX; nil in dev mode, where
	// mail comes from loopback test clients and DNS may be unreachable.
	Checker *mailauth.Checker
	// Deliverer is the one path into mailboxes and the queue, for SMTP and webmail.
	Deliverer *delivery.Deliverer
	// Limiter counts failed logins across every protocol and the webmail.
	Limiter *authlimit.Limiter
	// logins queues the limiter's events for the other nodes (loginshare.go);
	// nil when the store is not shared.
	logins *loginShare
	// Conns limits the connections of every listener, per client address
	// and in total; Registry counts them per protocol (admin /metrics).
	Conns    *connlimit.Limiter
	Registry *netserver.Registry

	// enders are the servers with logged-in sessions (IMAP, POP3, SMTP
	// submission, webmail), set by Start, for EndAccount.
	enders []sessionEnder
	// stopWatch ends the revocation watcher; watchDone is closed when it has.
	stopWatch context.CancelFunc
	watchDone chan struct{}

	certs *certReloader
	// prebound are listeners bound before New (prebind.go); nil = Start
	// binds its own.
	prebound *Prebound
	// gc counts the body collections of collectBodies (gc.go).
	gc gcStats
	// backups are the scheduled backups' outcome (backup.go).
	backups backupStats

	mu     sync.Mutex
	bound  []bound
	closed bool
}

// ReloadTLS re-reads the certificate files (on SIGHUP).
func (a *App) ReloadTLS() error {
	if a.certs == nil {
		return nil
	}
	return a.certs.Reload()
}

// New opens the store and loads the TLS certificate; servers start in Start.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Several nodes on one PostgreSQL: every log line and Received field
	// says which node wrote it (config key node_name).
	node := ""
	if loc, err := cfg.StoreLocation(); err == nil && loc.Backend == config.StorePostgres {
		node = cfg.Node()
		log = log.With("node", node)
	}
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	a := &App{Config: cfg, Store: st, Log: log}
	lcfg := authlimit.Config{PerMinute: cfg.Limits.LoginFailuresPerMinute}
	if _, ok := st.(store.LoginEventStore); ok {
		a.logins = &loginShare{}
		lcfg.Observe = a.logins.observe
	}
	a.Limiter = authlimit.New(lcfg)
	total := cfg.Limits.MaxConnections
	if total == 0 {
		total = connlimit.DefaultTotal()
	}
	a.Conns = connlimit.NewLimits(cfg.Limits.MaxConnectionsPerIP, total)
	a.Registry = netserver.NewRegistry()
	a.Queue = queue.New(queue.Options{Store: st, Hostname: cfg.Hostname, Config: cfg.Queue, Logger: log,
		PollInterval: cfg.Queue.PollInterval.Duration})
	if !cfg.Dev {
		c, err := mailauth.New(mailauth.Options{Resolver: mailauth.NetResolver{}, Hostname: cfg.Hostname})
		if err != nil {
			st.Close()
			return nil, err
		}
		a.Checker = c
	}
	a.Deliverer = delivery.New(delivery.Options{
		Store: st, Queue: a.Queue, Reporter: a.Queue, Hostname: cfg.Hostname, Node: node, Postmaster: cfg.Postmaster,
		Logger: log.With("part", "delivery"),
		Sign:   newDKIMSigners(st).Sign,
	})
	if cfg.Postmaster != "" {
		if _, err := st.Resolve(ctx, cfg.Postmaster); err != nil {
			log.Warn("postmaster is not a local account or alias: mail for postmaster@ will be refused", "postmaster", cfg.Postmaster, "err", err)
		}
	}
	if cfg.TLS.CertFile != "" {
		r, err := newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile, log)
		if err != nil {
			st.Close()
			return nil, err
		}
		a.certs = r
		a.TLS = r.tlsConfig()
	} else if cfg.TLS.ACME {
		a.TLS = newACMECerts(cfg, st, log).tlsConfig()
	}
	return a, nil
}

// Start starts the outbound queue, then binds every configured listener of the
// servers that exist and serves them in the background.
func (a *App) Start(ctx context.Context) error {
	if err := a.checkPlainHTTP(); err != nil {
		return err
	}
	a.Queue.Start()
	a.Log.Info("connection limits", "per_ip", a.Config.Limits.MaxConnectionsPerIP, "total", a.Conns.Stats().MaxTotal)
	for _, s := range a.servers() {
		if s.addr == "" {
			continue
		}
		if s.implicitTLS && a.TLS == nil {
			a.shutdown(context.Background())
			return fmt.Errorf("%s on %s needs a TLS certificate ([tls] cert_file and key_file)", s.name, s.addr)
		}
		ln, err := a.listen(ctx, s)
		if err != nil {
			a.shutdown(context.Background())
			return fmt.Errorf("listen %s on %s: %w", s.name, s.addr, err)
		}
		ln = a.wrap(s, ln)
		b := bound{Listener: Listener{Name: s.name, Addr: ln.Addr().String()}, ln: ln, srv: s.srv}
		a.mu.Lock()
		a.bound = append(a.bound, b)
		a.mu.Unlock()
		go func() {
			if err := b.srv.Serve(b.ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
				a.Log.Error("server stopped", "server", b.Name, "err", err)
			}
		}()
		a.Log.Info("listening", "server", b.Name, "addr", b.Addr)
	}
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.mu.Lock()
	a.stopWatch, a.watchDone = stop, done
	a.mu.Unlock()
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		if les, ok := a.Store.(store.LoginEventStore); ok && a.logins != nil {
			wg.Go(func() { a.shareLogins(wctx, les, a.logins) })
		}
		wg.Go(func() { a.collectBodies(wctx) })
		wg.Go(func() { a.scheduleBackups(wctx) })
		a.watchRevocations(wctx)
		wg.Wait()
	}()
	return nil
}

// EndAccount ends every session of the account at once on every protocol
// (the account was deleted or disabled, or its password changed) and returns
// how many it ended. The revocation watcher (revoke.go) calls it.
func (a *App) EndAccount(accountID int64) int {
	a.mu.Lock()
	enders := a.enders
	a.mu.Unlock()
	n := 0
	for _, e := range enders {
		n += e.EndAccount(accountID)
	}
	return n
}

// Listeners reports what is being served.
func (a *App) Listeners() []Listener {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Listener, len(a.bound))
	for i, b := range a.bound {
		out[i] = b.Listener
	}
	return out
}

// Run starts the servers and blocks until ctx is done, then shuts down gracefully
// (at most 10 s) and closes the store.
func (a *App) Run(ctx context.Context) error {
	if err := a.Start(ctx); err != nil {
		a.Store.Close()
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return a.shutdown(sctx)
}

// Close stops everything at once.
func (a *App) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return a.shutdown(ctx)
}

func (a *App) shutdown(ctx context.Context) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	bound := a.bound
	if a.prebound != nil {
		a.prebound.Close()
	}
	stop, done := a.stopWatch, a.watchDone
	a.mu.Unlock()
	if stop != nil {
		// Before the store closes: the watcher reads it.
		stop()
		<-done
	}
	var wg sync.WaitGroup
	for _, b := range bound {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.srv.Shutdown(ctx); err != nil {
				b.srv.Close()
			}
		}()
	}
	wg.Wait()
	// The queue after the servers (they enqueue), the store last.
	if err := a.Queue.Shutdown(ctx); err != nil {
		a.Queue.Close()
	}
	return a.Store.Close()
}
