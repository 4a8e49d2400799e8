package netserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gannet/internal/connlimit"
)

// ioWait bounds reads that should succeed; it only stops a broken test
// from hanging.
const ioWait = 10 * time.Second

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// toy is a line protocol for the tests: a greeting, then commands
// "SLOW" (300 ms of work), "STUCK" (3 s of work that ignores End and
// Interrupt), "PANIC", "LOGIN n" (account n), "WHO" (the remote address).
type toy struct {
	srv   *Server
	a     *Accepted
	r     *bufio.Reader
	woken atomic.Bool
	ended atomic.Bool
}

func (h *toy) write(s string) {
	h.a.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(h.a.Conn, s+"\r\n")
}

func (h *toy) Serve() {
	h.write("HELLO")
	for {
		if h.ended.Load() {
			h.write("BYE ended")
			return
		}
		if h.srv.ShuttingDown() {
			h.write("BYE shutdown")
			return
		}
		h.a.Conn.SetReadDeadline(time.Now().Add(ioWait))
		line, err := h.r.ReadString('\n')
		if err != nil {
			if h.woken.Load() {
				h.woken.Store(false)
				continue
			}
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch cmd {
		case "SLOW":
			time.Sleep(300 * time.Millisecond)
			h.write("DONE")
		case "STUCK":
			time.Sleep(3 * time.Second)
			h.write("DONE")
		case "PANIC":
			panic("toy panic")
		case "LOGIN":
			n, _ := strconv.ParseInt(arg, 10, 64)
			h.srv.SetAccount(h.a, n)
			h.write("OK")
		case "SLOWLOGIN":
			// A login whose check takes 200 ms (hashing, say).
			since := time.Now()
			time.Sleep(200 * time.Millisecond)
			n, _ := strconv.ParseInt(arg, 10, 64)
			h.srv.LoggedIn(h.a, n, since)
			h.write("OK")
		case "WHO":
			h.write(h.a.Raw.RemoteAddr().String())
		default:
			h.write("ERR")
		}
	}
}

func (h *toy) Interrupt() {
	h.woken.Store(true)
	h.a.Raw.SetReadDeadline(time.Now())
}

func (h *toy) End() {
	h.ended.Store(true)
	h.woken.Store(true)
	h.a.Raw.SetReadDeadline(time.Now())
}

func (h *toy) Recovered() { h.write("BYE panic") }

type toyEnv struct {
	srv   *Server
	addr  string
	serve chan error
	logs  *syncBuffer
}

func newToy(t *testing.T, cfg ServerConfig, tlsCfg *tls.Config) *toyEnv {
	t.Helper()
	e := &toyEnv{logs: &syncBuffer{}, serve: make(chan error, 1)}
	cfg.Proto = "toy"
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if cfg.Refusal == nil {
		cfg.Refusal = []byte("NO too many connections\r\n")
	}
	cfg.NewHandler = func(a *Accepted) Handler { return &toy{srv: e.srv, a: a, r: bufio.NewReader(a.Conn)} }
	e.srv = NewServer(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	var l net.Listener = ln
	if tlsCfg != nil {
		l = TLSListener(ln, tlsCfg)
	}
	go func() { e.serve <- e.srv.Serve(l) }()
	t.Cleanup(func() {
		e.srv.Close()
		if err := <-e.serve; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return e
}

// client is a raw line client.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

// dialFrom connects from the loopback address src ("" = any).
func dialFrom(t *testing.T, addr, src string) *client {
	t.Helper()
	d := net.Dialer{Timeout: ioWait}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *client) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s+"\r\n"); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
}

// expectEOF waits for the server to close; it returns how long that took.
func (c *client) expectEOF() time.Duration {
	c.t.Helper()
	start := time.Now()
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	rest, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("waiting for close: %v (read %q)", err, rest)
	}
	if len(rest) > 0 {
		c.t.Fatalf("before close: %q", rest)
	}
	return time.Since(start)
}

func TestLimitsPerIPAndTotal(t *testing.T) {
	t.Parallel()
	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		lim := connlimit.NewLimits(2, 0)
		reg := NewRegistry()
		e := newToy(t, ServerConfig{Config: Config{Limiter: lim, Registry: reg}}, nil)
		a, b := dialFrom(t, e.addr, "127.0.0.1"), dialFrom(t, e.addr, "127.0.0.1")
		a.expect("HELLO")
		b.expect("HELLO")
		c := dialFrom(t, e.addr, "127.0.0.1")
		c.expect("NO too many connections")
		c.expectEOF()
		// Another address is not affected.
		dialFrom(t, e.addr, "127.0.0.2").expect("HELLO")
		if got := reg.Open("toy"); got != 3 {
			t.Errorf("registry open = %d, want 3", got)
		}
		st := reg.Stats()
		if len(st) != 1 || st[0].RefusedPerIP != 1 || st[0].Accepted != 3 {
			t.Errorf("registry stats = %+v", st)
		}
		// A slot is given back when its connection ends.
		a.nc.Close()
		waitFor(t, func() bool { return lim.Stats().Open == 2 })
		dialFrom(t, e.addr, "127.0.0.1").expect("HELLO")
	})
	t.Run("total", func(t *testing.T) {
		t.Parallel()
		lim := connlimit.NewLimits(0, 2)
		e := newToy(t, ServerConfig{Config: Config{Limiter: lim}}, nil)
		dialFrom(t, e.addr, "127.0.0.1").expect("HELLO")
		dialFrom(t, e.addr, "127.0.0.2").expect("HELLO")
		c := dialFrom(t, e.addr, "127.0.0.3")
		c.expect("NO too many connections")
		c.expectEOF()
		if st := lim.Stats(); st.RefusedTotal != 1 || st.Open != 2 {
			t.Errorf("limiter stats = %+v", st)
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ioWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// emfileListener fails with EMFILE until failUntil, counting Accept calls,
// then hands out real connections.
type emfileListener struct {
	net.Listener
	failUntil time.Time
	calls     atomic.Int32
}

func (l *emfileListener) Accept() (net.Conn, error) {
	l.calls.Add(1)
	if time.Now().Before(l.failUntil) {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return l.Listener.Accept()
}

func TestAcceptBackoffOnEMFILE(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fail := 400 * time.Millisecond
	el := &emfileListener{Listener: ln, failUntil: time.Now().Add(fail)}
	logs := &syncBuffer{}
	nl := NewListener(el, Config{Proto: "toy", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	defer nl.Close()
	// A client waiting through the burst is served once accept works again.
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := nl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// 5, 10, 20, 40, 80, 160 ms...: about 7 attempts in 400 ms. A spinning
	// loop makes millions.
	if n := el.calls.Load(); n > 15 {
		t.Errorf("%d accept calls in %v of EMFILE: the loop spins", n, fail)
	}
	log := logs.String()
	if n := strings.Count(log, "accept failed"); n != 1 {
		t.Errorf("%d 'accept failed' log lines for one burst, want 1:\n%s", n, log)
	}
	if !strings.Contains(log, "accept works again") || !strings.Contains(log, "too many open files") {
		t.Errorf("log:\n%s", log)
	}
}

func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	ap := netip.MustParseAddrPort
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		lim := connlimit.NewLimits(1, 0)
		e := newToy(t, ServerConfig{Config: Config{Limiter: lim, TrustedProxies: trusted, ProxyTimeout: 300 * time.Millisecond}}, nil)
		// v1: the handler sees the client's address.
		c := dialFrom(t, e.addr, "")
		io.WriteString(c.nc, "PROXY TCP4 192.0.2.1 198.51.100.1 5000 143\r\n")
		c.expect("HELLO")
		c.send("WHO")
		c.expect("192.0.2.1:5000")
		// The limit counts 192.0.2.1, not the proxy: a second connection
		// of that client is refused, one of another client (v2) is not.
		d := dialFrom(t, e.addr, "")
		io.WriteString(d.nc, "PROXY TCP4 192.0.2.1 198.51.100.1 5001 143\r\n")
		d.expect("NO too many connections")
		f := dialFrom(t, e.addr, "")
		f.nc.Write(v2Header(ap("[2001:db8::5]:6000"), ap("[2001:db8::1]:143"), []byte{4, 0, 1, 'x'}))
		f.expect("HELLO")
		f.send("WHO")
		f.expect("[2001:db8::5]:6000")
		// A trusted peer must send the header: without it, closed.
		g := dialFrom(t, e.addr, "")
		io.WriteString(g.nc, "HELLO THERE I AM NOT A PROXY HEADER\r\n")
		g.expectEOF()
		// One that stalls is cut at ProxyTimeout, and meanwhile others
		// are served.
		h := dialFrom(t, e.addr, "")
		io.WriteString(h.nc, "PROXY TCP4 ")
		k := dialFrom(t, e.addr, "")
		io.WriteString(k.nc, "PROXY TCP4 192.0.2.3 198.51.100.1 5000 143\r\n")
		k.expect("HELLO")
		if d := h.expectEOF(); d > 3*time.Second {
			t.Errorf("stalled PROXY header held the connection %v", d)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		e := newToy(t, ServerConfig{Config: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}, nil)
		c := dialFrom(t, e.addr, "127.0.0.1")
		c.expect("HELLO")
		// The header is protocol input, and the address stays the peer's.
		c.send("PROXY TCP4 192.0.2.1 198.51.100.1 5000 143")
		c.expect("ERR")
		c.send("WHO")
		if got := c.line(); !strings.HasPrefix(got, "127.0.0.1:") {
			t.Errorf("WHO = %q, want the peer's address", got)
		}
	})
}

// selfSigned returns a server TLS config.
func selfSigned(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestImplicitTLSHandshakeDeadline(t *testing.T) {
	t.Parallel()
	cfg := selfSigned(t)
	e := newToy(t, ServerConfig{HandshakeTimeout: 300 * time.Millisecond}, cfg)
	// A real client gets through.
	tc, err := tls.Dial("tcp", e.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	r := bufio.NewReader(tc)
	if l, _ := r.ReadString('\n'); l != "HELLO\r\n" {
		t.Fatalf("greeting over TLS = %q", l)
	}
	t.Run("silent", func(t *testing.T) {
		t.Parallel()
		c := dialFrom(t, e.addr, "")
		if d := c.expectEOF(); d > 2*time.Second {
			t.Errorf("silent client held the handshake %v", d)
		}
	})
	t.Run("trickle", func(t *testing.T) {
		t.Parallel()
		c := dialFrom(t, e.addr, "")
		// A record header announcing 16 KB, then one octet every 50 ms:
		// every read succeeds, only the deadline ends it.
		io.WriteString(c.nc, "\x16\x03\x01\x40\x00")
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					if _, err := c.nc.Write([]byte{0x42}); err != nil {
						return
					}
				}
			}
		}()
		if d := c.expectEOF(); d > 2*time.Second {
			t.Errorf("trickling client held the handshake %v", d)
		}
	})
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{}, nil)
	idle, busy := dialFrom(t, e.addr, ""), dialFrom(t, e.addr, "")
	idle.expect("HELLO")
	busy.expect("HELLO")
	busy.send("SLOW")
	time.Sleep(50 * time.Millisecond) // SLOW is running
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// The running command finished before the goodbye; the idle session
	// got its goodbye at once.
	busy.expect("DONE")
	busy.expect("BYE shutdown")
	busy.expectEOF()
	idle.expect("BYE shutdown")
	idle.expectEOF()
	if err := <-e.serve; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v", err)
	}
	e.serve <- ErrServerClosed // for the cleanup
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
	if err := e.srv.Serve(mustListen(t)); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func TestShutdownForcedAtDeadline(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{}, nil)
	c := dialFrom(t, e.addr, "")
	c.expect("HELLO")
	c.send("STUCK")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	// Shutdown waits for the handler after closing its connection.
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	c.expectEOF()
}

func TestClose(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{}, nil)
	c := dialFrom(t, e.addr, "")
	c.expect("HELLO")
	e.srv.Close()
	// At once, without goodbye.
	if d := c.expectEOF(); d > time.Second {
		t.Errorf("Close took %v to close a connection", d)
	}
	waitFor(t, func() bool { return e.srv.Len() == 0 })
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{}, nil)
	c := dialFrom(t, e.addr, "")
	c.expect("HELLO")
	c.send("PANIC")
	c.expect("BYE panic")
	c.expectEOF()
	if log := e.logs.String(); !strings.Contains(log, "panic serving connection") || !strings.Contains(log, "toy panic") ||
		!strings.Contains(log, "server_test.go") {
		t.Errorf("panic not logged with its stack:\n%s", log)
	}
	// The server goes on.
	d := dialFrom(t, e.addr, "")
	d.expect("HELLO")
	waitFor(t, func() bool { return e.srv.Len() == 1 })
}

func TestEndAccount(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{}, nil)
	login := func(n int) *client {
		c := dialFrom(t, e.addr, "")
		c.expect("HELLO")
		if n != 0 {
			c.send("LOGIN " + strconv.Itoa(n))
			c.expect("OK")
		}
		return c
	}
	a, b, other, anon := login(7), login(7), login(8), login(0)
	if n := e.srv.EndAccount(7); n != 2 {
		t.Fatalf("EndAccount(7) = %d, want 2", n)
	}
	for _, c := range []*client{a, b} {
		c.expect("BYE ended")
		c.expectEOF()
	}
	for _, c := range []*client{other, anon} {
		c.send("WHO")
		c.line()
	}
	if n := e.srv.EndAccount(7); n != 0 {
		t.Errorf("second EndAccount(7) = %d, want 0", n)
	}
	// A session that does not end by itself is closed under it.
	stuck := login(9)
	stuck.send("STUCK")
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if n := e.srv.EndAccount(9); n != 1 {
		t.Fatalf("EndAccount(9) = %d", n)
	}
	stuck.expectEOF()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stuck session closed after %v, want about %v", d, endGrace)
	}
}

// TestRefusalInsideTLS: on an implicit-TLS listener the refusal is sent
// inside TLS, where the client can read it.
func TestRefusalInsideTLS(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{Config: Config{Limiter: connlimit.NewLimits(1, 0)}}, selfSigned(t))
	dial := func() *bufio.Reader {
		tc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioWait}, "tcp", e.addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tc.Close() })
		tc.SetDeadline(time.Now().Add(ioWait))
		return bufio.NewReader(tc)
	}
	if l, err := dial().ReadString('\n'); l != "HELLO\r\n" {
		t.Fatalf("first: %q %v", l, err)
	}
	r := dial()
	if l, err := r.ReadString('\n'); l != "NO too many connections\r\n" {
		t.Fatalf("second: %q %v", l, err)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("after the refusal: %v, want EOF", err)
	}
}

// TestEndAccountDuringLogin: a login whose check ran before EndAccount but
// that completes after it is ended too; a login begun after it is not.
func TestEndAccountDuringLogin(t *testing.T) {
	t.Parallel()
	e := newToy(t, ServerConfig{}, nil)
	c := dialFrom(t, e.addr, "")
	c.expect("HELLO")
	c.send("SLOWLOGIN 5")
	time.Sleep(50 * time.Millisecond)
	if n := e.srv.EndAccount(5); n != 0 {
		t.Fatalf("EndAccount during the login = %d, want 0 (not logged in yet)", n)
	}
	c.expect("OK")
	c.expect("BYE ended")
	c.expectEOF()
	d := dialFrom(t, e.addr, "")
	d.expect("HELLO")
	d.send("SLOWLOGIN 5")
	d.expect("OK")
	d.send("WHO")
	d.line()
	if n := e.srv.EndAccount(5); n != 1 {
		t.Fatalf("EndAccount after a new login = %d, want 1", n)
	}
}
