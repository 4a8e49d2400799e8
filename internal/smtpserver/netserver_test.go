package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/connlimit"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// refusalLine is what netserver sends a connection over the limits.
const refusalLine = "421 4.7.0 mx.example.org Too many connections, try again later\r\n"

// listen465 serves e's server on a second listener with implicit TLS
// (netserver.TLSListener: PROXY headers and limits before the handshake).
func (e *testEnv) listen465() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	e.serve(netserver.TLSListener(ln, e.serverTLS))
	return ln.Addr().String()
}

// readAll reads until the server closes the connection.
func readAll(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(deadline())
	var b bytes.Buffer
	_, err := b.ReadFrom(c)
	if err != nil && b.Len() == 0 {
		t.Fatalf("read: %v", err)
	}
	return b.String()
}

// TestSharedConnectionLimit: the MX and submission (587 and 465) share one
// connlimit.Limiter. Over it, netserver refuses with SMTP's 421 4.7.0: in
// plain text on 25 and 587, inside TLS on 465. Before, smtpserver had its
// own per-IP limiter per server and closed 465 connections without a word.
func TestSharedConnectionLimit(t *testing.T) {
	t.Parallel()
	lim := connlimit.New(1)
	mx := newEnv(t, MX, func(o *Options) { o.Conns = lim })
	sub := newEnv(t, Submission, func(o *Options) { o.Conns = lim })
	addr465 := sub.listen465()
	held := mx.dial() // the one connection 127.0.0.1 may hold

	for name, addr := range map[string]string{"25": mx.addr, "587": sub.addr} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, c); got != refusalLine {
			t.Errorf("port %s over the limit: %q, want %q", name, got, refusalLine)
		}
		c.Close()
	}
	tc, err := tls.Dial("tcp", addr465, sub.clientTLS)
	if err != nil {
		t.Fatalf("465 over the limit: handshake: %v (the refusal must come inside TLS)", err)
	}
	if got := readAll(t, tc); got != refusalLine {
		t.Errorf("465 over the limit: %q, want %q", got, refusalLine)
	}
	tc.Close()
	if s := lim.Stats(); s.RefusedPerIP != 3 {
		t.Errorf("limiter refused %d, want 3", s.RefusedPerIP)
	}

	// The slot comes back when the held connection ends; 465 then works.
	held.cmd("QUIT", 221, "")
	held.closed()
	for lim.Open(netip.MustParseAddr("127.0.0.1")) > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	tc, err = tls.Dial("tcp", addr465, sub.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(deadline())
	w := &wire{t: t, c: tc, r: bufio.NewReader(tc)}
	w.expect(220, "")
	w.ehlo()
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "2.0.0")
}

// proxyV2 is a PROXY protocol v2 header for TCP over IPv4 from src to dst.
func proxyV2(src, dst netip.AddrPort) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	s, d := src.Addr().As4(), dst.Addr().As4()
	b = append(append(b, s[:]...), d[:]...)
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

// TestProxyProtocol: behind a trusted load balancer (here 127.0.0.0/8),
// SMTP sees the client's address from the PROXY v2 header: it is in the
// Received field, and it is what the per-IP limit counts. A header from an
// untrusted peer is not read as one.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	lim := connlimit.New(1)
	e := newEnv(t, MX, func(o *Options) {
		o.Conns = lim
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	dst := netip.MustParseAddrPort("198.51.100.25:25")
	dialAs := func(src string) *wire {
		w := dialWire(t, e.addr, false)
		w.write(string(proxyV2(netip.MustParseAddrPort(src), dst)))
		return w
	}
	w := dialAs("192.0.2.7:40000")
	w.expect(220, "")
	w.ehlo()
	w.send("s@remote.example", []string{"alice@example.org"}, testMsg("s@remote.example", "proxied"), 250, "2.0.0")
	msgs := e.inbox(e.alice)
	if len(msgs) != 1 {
		t.Fatalf("alice has %d messages", len(msgs))
	}
	if raw := e.raw(msgs[0]); !strings.Contains(raw, "[192.0.2.7]") || strings.Contains(raw, "127.0.0.1") {
		t.Errorf("Received does not name the proxied client: %q", raw[:min(300, len(raw))])
	}
	// The per-IP limit counts the client's address, not the proxy's: a
	// second client behind the same proxy gets in, a second connection of
	// 192.0.2.7 does not.
	other := dialAs("192.0.2.8:40000")
	other.expect(220, "")
	again := dialAs("192.0.2.7:40001")
	if got := readAll(t, again.c); got != refusalLine {
		t.Errorf("second connection of 192.0.2.7: %q, want the refusal", got)
	}
	if n := lim.Open(netip.MustParseAddr("127.0.0.1")); n != 0 {
		t.Errorf("the proxy's own address holds %d slots", n)
	}
}

// hashCounter is the real store with Authenticate (where the password hash
// runs) counted.
type hashCounter struct {
	store.Store
	calls atomic.Int32
}

func (h *hashCounter) Authenticate(ctx context.Context, user, pw string) (*store.Account, error) {
	h.calls.Add(1)
	return h.Store.Authenticate(ctx, user, pw)
}

// TestAuthWave (issue 13 finding 4, on SMTP): 200 simultaneous wrong AUTH
// PLAIN from one address. The login service counts attempts in flight, so at
// most PerMinute+1 of them reach the password check (argon2id, 19 MiB each in
// production); the others are told 454 4.7.0 at once. The old SMTP sequence
// asked the limiter only whether the address was blocked already, so every
// attempt of a simultaneous wave was hashed.
func TestAuthWave(t *testing.T) {
	t.Parallel()
	const n = 200
	var hc *hashCounter
	e := newEnv(t, Submission, func(o *Options) {
		o.Dev = true // AUTH from loopback without TLS: 200 handshakes would only slow the test
		hc = &hashCounter{Store: o.Store}
		o.Store = hc                                  // the default login service checks passwords here
		o.Limiter = authlimit.New(authlimit.Config{}) // PerMinute 5
	})
	var (
		mu  sync.Mutex
		got = map[string]int{}
		wg  sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			answer := func() string {
				c, err := net.DialTimeout("tcp", e.addr, 10*time.Second)
				if err != nil {
					return "dial error"
				}
				defer c.Close()
				c.SetDeadline(deadline())
				r := bufio.NewReader(c)
				if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "220 ") {
					return "no greeting"
				}
				fmt.Fprintf(c, "EHLO c%d.example\r\n", i)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return "EHLO failed"
					}
					if strings.HasPrefix(l, "250 ") {
						break
					}
				}
				<-start
				fmt.Fprintf(c, "AUTH PLAIN %s\r\n", plain("alice@example.org", fmt.Sprintf("guess %d", i)))
				l, err := r.ReadString('\n')
				if err != nil {
					return "no answer"
				}
				f := strings.Fields(l)
				return strings.Join(f[:min(2, len(f))], " ")
			}()
			mu.Lock()
			got[answer]++
			mu.Unlock()
		})
	}
	time.Sleep(100 * time.Millisecond) // let every connection say EHLO
	close(start)
	wg.Wait()
	t.Logf("answers %v; %d password checks", got, hc.calls.Load())
	if got["535 5.7.8"]+got["454 4.7.0"] != n {
		t.Errorf("answers %v, want only 535 5.7.8 and 454 4.7.0", got)
	}
	if c := hc.calls.Load(); c > 6 {
		t.Errorf("%d of %d simultaneous attempts from one address were hashed, want at most PerMinute+1 = 6", c, n)
	}
}

// lockedBuffer is a log sink for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPanicInHandshake: a panic in the STARTTLS handshake (here the
// certificate callback) is recovered by netserver and logged with its stack;
// no plain-text 421 is written into the handshake, the connection is closed,
// and the server serves others. A panic in a command is answered 421 4.0.0
// (TestPanicRecovered); netserver's recovery logs that one the same way.
func TestPanicInHandshake(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	e := newEnv(t, Submission, func(o *Options) {
		cfg := o.TLS.Clone()
		cfg.Certificates = nil
		cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			panic("certificate callback exploded")
		}
		o.TLS = cfg
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	w := e.dial()
	w.ehlo()
	w.cmd("STARTTLS", 220, "2.0.0")
	rc := &recordingConn{Conn: w.c}
	tc := tls.Client(rc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(deadline())
	if err := tc.Handshake(); err == nil {
		t.Fatalf("handshake succeeded against a panicking server")
	}
	w.closed()
	if got := rc.String(); strings.Contains(got, "421") {
		t.Errorf("server wrote plain text into the handshake: %q", got)
	}
	for l := logs.String(); !strings.Contains(l, "panic serving connection"); l = logs.String() {
		time.Sleep(5 * time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, "certificate callback exploded") || !strings.Contains(l, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", l)
	}

	// A panic in a command: 421 4.0.0, and netserver logs it.
	e2 := newEnv(t, Submission, func(o *Options) {
		o.Dev = true
		o.Deliverer = nil
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	w2 := e2.dial()
	w2.ehlo()
	w2.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "")
	w2.cmd("MAIL FROM:<alice@example.org>", 421, "4.0.0")
	w2.closed()
	if n := strings.Count(logs.String(), "panic serving connection"); n != 2 {
		t.Errorf("%d panics logged, want 2", n)
	}
	e.dial().cmd("NOOP", 250, "")
	e2.dial().cmd("NOOP", 250, "")
}

// recordingConn keeps what is read through it.
type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	got bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	r.got.Write(p[:n])
	r.mu.Unlock()
	return n, err
}

func (r *recordingConn) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got.String()
}

// gateStore holds the first Authenticate until release is closed.
type gateStore struct {
	store.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (g *gateStore) Authenticate(ctx context.Context, user, pw string) (*store.Account, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Store.Authenticate(ctx, user, pw)
}

// TestEndAccountDuringAuth: an account changed (EndAccount) while an AUTH of
// it was being checked: the password was checked against the account as it
// was, so the session must not be let in. netserver remembers the
// EndAccount and ends the session when it logs in: 421 4.7.0, not 235. On
// the old code the session was not yet counted as the account's, so
// EndAccount missed it and it stayed logged in (checked: fails there).
func TestEndAccountDuringAuth(t *testing.T) {
	t.Parallel()
	g := &gateStore{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, Submission, func(o *Options) {
		o.Dev = true
		g.Store = o.Store
		o.Store = g
	})
	w := e.dial()
	w.ehlo()
	w.write("AUTH PLAIN " + plain("alice@example.org", alicePW) + "\r\n")
	<-g.entered
	if n := e.srv.EndAccount(e.alice.ID); n != 0 {
		t.Errorf("EndAccount = %d, want 0 (no session logged in yet)", n)
	}
	close(g.release)
	w.expect(421, "4.7.0")
	w.closed()
	// A new login after the change works.
	w2 := e.dial()
	w2.ehlo()
	w2.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "2.0.0")
}

// TestSTARTTLSForgetsLogin: STARTTLS forgets the session, login included (RFC
// 3207 4.2), so the session is no longer one of the account's: EndAccount
// leaves it alone.
func TestSTARTTLSForgetsLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, func(o *Options) { o.Dev = true })
	w := e.dial()
	w.ehlo()
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "2.0.0")
	w.startTLS(e.clientTLS)
	w.ehlo()
	if n := e.srv.EndAccount(e.alice.ID); n != 0 {
		t.Errorf("EndAccount = %d after STARTTLS, want 0", n)
	}
	w.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
	w.cmd("NOOP", 250, "")
}
