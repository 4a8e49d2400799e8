package netserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// ErrServerClosed is returned by Serve after Shutdown or Close. It wraps
// net.ErrClosed.
var ErrServerClosed = fmt.Errorf("netserver: server closed: %w", net.ErrClosed)

// endGrace is how long a session told to end by EndAccount may take to say
// goodbye before its connection is closed under it.
const endGrace = time.Second

// endMaxGrace bounds how long a busy session (see Busy) may keep its
// connection after EndAccount.
const endMaxGrace = 30 * time.Second

// Busy may be implemented by a Handler whose session can be in the middle of
// work whose outcome the client must be told, such as an SMTP delivery whose
// 250 says the message is stored: after EndAccount its connection is closed
// only once it is no longer busy (or after endMaxGrace), so that the client
// is not left to send again a message that was already taken.
type Busy interface {
	Busy() bool
}

// endMemory is how long EndAccount is remembered, for logins that were
// under way when it ran (see LoggedIn): longer than any login takes.
const endMemory = 5 * time.Minute

// Handler runs one connection for a protocol server.
type Handler interface {
	// Serve runs the connection until it ends; the Server closes the
	// connection when Serve returns.
	Serve()
	// Interrupt is called by Shutdown, from another goroutine: wake a
	// blocked read, so that the session sees ShuttingDown at its next
	// command boundary, says goodbye and returns. A running command
	// finishes first.
	Interrupt()
	// End is called by EndAccount, from another goroutine: the session's
	// account changed (deleted, disabled, new password), so it must stop
	// serving it at once, say the protocol's goodbye and return. If it has
	// not returned after a second, its connection is closed under it.
	End()
	// Recovered is called after Serve panicked (the stack is logged): say
	// the protocol's last word (421, BYE, -ERR) if it still can.
	Recovered()
}

// Accepted is a connection handed to a protocol server.
type Accepted struct {
	// Conn is what to talk over: the TLS connection for implicit TLS
	// (handshake done), else the same as Raw.
	Conn net.Conn
	// Raw is the socket, below any TLS: set deadlines on it to interrupt a
	// read, run STARTTLS over it, close it to end everything.
	Raw net.Conn
	// TLS reports implicit TLS.
	TLS bool
	// Ctx is cancelled when the connection ends, or when the server closes.
	Ctx context.Context
	// ID numbers the server's connections, for logs.
	ID uint64

	e *entry
}

// ServerConfig configures a Server.
type ServerConfig struct {
	Config
	// HandshakeTimeout bounds an implicit TLS handshake; 0 =
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// NewHandler makes the handler of an accepted connection. Required.
	NewHandler func(a *Accepted) Handler
}

// Server runs the accept loops and connections of one protocol server.
// It looks like http.Server: Serve, Shutdown, Close.
//
// Locking: mu guards listeners, conns and accounts; it is never held during
// I/O or while calling a Handler, except Interrupt and End, which must not
// block.
type Server struct {
	cfg    ServerConfig
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Uint64

	inShutdown atomic.Bool // set under mu, read without it

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*entry]struct{}
	accounts  map[int64]map[*entry]struct{}
	endedAt   map[int64]time.Time // when EndAccount last ran per account, for endMemory
	endedGC   int                 // size of endedAt at which old entries are dropped
	wg        sync.WaitGroup      // one count per connection; Add only under mu before shutdown
}

// entry is one live connection.
type entry struct {
	a       *Accepted
	h       Handler // nil until the handshake is done
	account int64   // 0 = none
	ended   *time.Timer
}

// NewServer returns a Server.
func NewServer(cfg ServerConfig) *Server {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		cfg: cfg, log: cfg.Logger.With("proto", cfg.Proto),
		ctx: ctx, cancel: cancel,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*entry]struct{}{},
		accounts:  map[int64]map[*entry]struct{}{},
		endedAt:   map[int64]time.Time{},
		endedGC:   1024,
	}
}

// ShuttingDown reports whether Shutdown or Close was called.
func (s *Server) ShuttingDown() bool { return s.inShutdown.Load() }

// Context is the parent of every connection's context; Close cancels it.
func (s *Server) Context() context.Context { return s.ctx }

// Serve accepts connections on ln until Shutdown or Close, then returns
// ErrServerClosed. ln may be a TLSListener (implicit TLS, handshake here),
// a Listener (already wrapped), a tls.NewListener (handshake here, but no
// PROXY header possible), or a plain listener. Serve closes ln when it
// returns.
func (s *Server) Serve(ln net.Listener) error {
	var tcfg *tls.Config
	if tl, ok := ln.(*tlsListener); ok {
		ln, tcfg = tl.Listener, tl.cfg
	}
	nl, ok := ln.(*Listener)
	if !ok {
		cfg := s.cfg.Config
		if tcfg != nil {
			cfg.RefusalTLS = tcfg // the client expects TLS: plain text would be garbage
		}
		nl = NewListener(ln, cfg)
	}
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		nl.Close()
		return ErrServerClosed
	}
	s.listeners[nl] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, nl)
		s.mu.Unlock()
		nl.Close()
	}()
	for {
		nc, err := nl.Accept()
		if err != nil {
			if s.inShutdown.Load() || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			return err // the Listener retries what can be retried
		}
		ctx, cancel := context.WithCancel(s.ctx)
		e := &entry{a: &Accepted{Conn: nc, Raw: nc, Ctx: ctx, ID: s.nextID.Add(1)}}
		e.a.e = e
		s.mu.Lock()
		if s.inShutdown.Load() {
			s.mu.Unlock()
			cancel()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[e] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(e, tcfg, cancel)
	}
}

// serveConn runs one connection: the TLS handshake, then the handler, with
// panic recovery around everything.
func (s *Server) serveConn(e *entry, tcfg *tls.Config, cancel context.CancelFunc) {
	a := e.a
	defer s.forget(e)
	defer cancel()
	defer a.Raw.Close()
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic serving connection", "cid", a.ID, "remote", a.Raw.RemoteAddr().String(),
				"panic", v, "stack", string(debug.Stack()))
			s.mu.Lock()
			h := e.h
			s.mu.Unlock()
			if h != nil {
				s.recovered(h)
			}
		}
	}()
	var tc *tls.Conn
	if tcfg != nil {
		tc = tls.Server(a.Raw, tcfg)
	} else if c, ok := a.Raw.(*Conn); ok {
		tc, _ = c.Conn.(*tls.Conn) // from a tls.NewListener below
	}
	if tc != nil {
		if _, err := handshake(a.Ctx, tc, s.cfg.HandshakeTimeout); err != nil {
			s.log.Debug("TLS handshake failed", "cid", a.ID, "remote", a.Raw.RemoteAddr().String(), "err", err)
			return
		}
		a.TLS = true
		if tcfg != nil {
			a.Conn = tc
		}
	}
	h := s.cfg.NewHandler(a)
	s.mu.Lock()
	e.h = h
	closing := s.inShutdown.Load()
	s.mu.Unlock()
	if closing {
		h.Interrupt() // Shutdown came during the handshake
	}
	h.Serve()
}

// recovered lets the handler answer after a panic; a second panic there is
// only logged.
func (s *Server) recovered(h Handler) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("panic in panic answer", "panic", v)
		}
	}()
	h.Recovered()
}

func (s *Server) forget(e *entry) {
	s.mu.Lock()
	delete(s.conns, e)
	s.unsetAccount(e)
	if e.ended != nil {
		e.ended.Stop()
	}
	s.mu.Unlock()
	s.wg.Done()
}

// SetAccount records that a's session is logged in to account id, for
// EndAccount; 0 records none. Prefer LoggedIn after a login.
func (s *Server) SetAccount(a *Accepted, id int64) { s.LoggedIn(a, id, time.Now()) }

// LoggedIn records that a's session logged in to account id with an
// authentication that began at since (the start of the login command). If
// EndAccount(id) ran after since, the credentials were checked against the
// account as it was before its change, so the session is ended at once, as
// if it had been registered when EndAccount ran.
func (s *Server) LoggedIn(a *Accepted, id int64, since time.Time) {
	e := a.e
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, live := s.conns[e]; !live {
		return
	}
	s.unsetAccount(e)
	if id == 0 {
		return
	}
	if t, ok := s.endedAt[id]; ok && !t.Before(since) {
		s.end(e)
		return
	}
	e.account = id
	set := s.accounts[id]
	if set == nil {
		set = map[*entry]struct{}{}
		s.accounts[id] = set
	}
	set[e] = struct{}{}
}

// unsetAccount removes e from the account index; under mu.
func (s *Server) unsetAccount(e *entry) {
	if e.account == 0 {
		return
	}
	if set := s.accounts[e.account]; set != nil {
		delete(set, e)
		if len(set) == 0 {
			delete(s.accounts, e.account)
		}
	}
	e.account = 0
}

// EndAccount ends every session logged in to account id: each handler's End
// is called, and a connection still open a second later is closed. A login
// to the account under way now ends too, when it completes (LoggedIn). It
// returns how many sessions it ended.
func (s *Server) EndAccount(id int64) int {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endedAt[id] = now
	if len(s.endedAt) >= s.endedGC {
		// Amortised O(1): the map stays about the size of the accounts
		// changed within endMemory.
		for k, t := range s.endedAt {
			if now.Sub(t) > endMemory {
				delete(s.endedAt, k)
			}
		}
		s.endedGC = max(1024, 2*len(s.endedAt))
	}
	n := 0
	for e := range s.accounts[id] {
		s.end(e)
		e.account = 0 // its account is gone: never found again
		n++
	}
	delete(s.accounts, id)
	return n
}

// end tells e's handler to end and closes its connection after endGrace;
// under mu.
func (s *Server) end(e *entry) {
	raw := e.a.Raw
	if e.ended == nil {
		busy, _ := e.h.(Busy)
		last := time.Now().Add(endMaxGrace)
		var closeIdle func()
		closeIdle = func() {
			if busy != nil && busy.Busy() && time.Now().Before(last) {
				// A new timer each time: nothing shared with end's caller.
				time.AfterFunc(50*time.Millisecond, closeIdle)
				return
			}
			raw.Close()
		}
		e.ended = time.AfterFunc(endGrace, closeIdle)
	}
	e.h.End()
}

// Len returns how many connections are being served.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting, interrupts every connection (each finishes the
// command it is running, says goodbye and ends), and waits for them. If ctx
// ends first, the remaining connections are closed by force and ctx's error
// is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.inShutdown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for e := range s.conns {
		if e.h != nil {
			e.h.Interrupt()
		} else {
			e.a.Raw.Close() // still in the TLS handshake: nothing to finish
		}
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// Close closes every listener and connection at once, without goodbye, and
// cancels every connection's context.
func (s *Server) Close() error {
	s.mu.Lock()
	s.inShutdown.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	for e := range s.conns {
		e.a.Raw.Close()
	}
	s.mu.Unlock()
	s.cancel()
	return nil
}
