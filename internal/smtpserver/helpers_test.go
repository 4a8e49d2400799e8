package smtpserver

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// Passwords of the test accounts.
const (
	alicePW = "alice secret"
	bobPW   = "bob secret"
)

// recorder is a stand-in for the outbound queue only (the store is always
// real): it keeps what was enqueued.
type recorder struct {
	mu   sync.Mutex
	msgs []store.Outbound
	err  error
	// hold, when set (setHold), makes Enqueue wait until it is closed: a
	// slow queue write.
	hold    chan struct{}
	waiting chan struct{} // gets a value when an Enqueue starts waiting on hold
}

// setHold makes Enqueue wait until hold is closed; the returned channel gets
// a value each time an Enqueue starts waiting.
func (r *recorder) setHold(hold chan struct{}) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold, r.waiting = hold, make(chan struct{}, 16)
	return r.waiting
}

func (r *recorder) Enqueue(ctx context.Context, m store.Outbound) error {
	r.mu.Lock()
	hold, waiting := r.hold, r.waiting
	r.mu.Unlock()
	if hold != nil {
		waiting <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) all() []store.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]store.Outbound(nil), r.msgs...)
}

// testEnv is a server on 127.0.0.1:0 over a fresh store (testopen) with accounts
// alice@example.org, bob@example.org and carol@example.org.
type testEnv struct {
	t         *testing.T
	st        store.Store
	q         *recorder
	srv       *Server
	addr      string
	alice     *store.Account
	bob       *store.Account
	carol     *store.Account
	serverTLS *tls.Config
	clientTLS *tls.Config
	certPEM   []byte
	keyPEM    []byte
	dir       string
}

func newEnv(t *testing.T, mode Mode, mods ...func(*Options)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, q: &recorder{}, dir: t.TempDir()}
	st := testopen.Open(t, testopen.FastPasswords)
	e.st = st
	e.alice = storetest.NewAccount(t, st, "alice@example.org", alicePW)
	e.bob = storetest.NewAccount(t, st, "bob@example.org", bobPW)
	e.carol = storetest.NewAccount(t, st, "carol@example.org", "carol secret")
	e.serverTLS, e.clientTLS, e.certPEM, e.keyPEM = testCert(t)
	log := testLogger(t)
	d := delivery.New(delivery.Options{Store: st, Queue: e.q, Hostname: "mx.example.org", Logger: log})
	opts := Options{
		Mode:      mode,
		Hostname:  "mx.example.org",
		Store:     st,
		Deliverer: d,
		TLS:       e.serverTLS,
		Logger:    log,
		Timeout:   30 * time.Second,
	}
	for _, m := range mods {
		m(&opts)
	}
	e.srv = New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	e.serve(ln)
	return e
}

// serve runs the server on ln until the test ends.
func (e *testEnv) serve(ln net.Listener) {
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	e.t.Cleanup(func() {
		e.srv.Close()
		if err := <-done; err != ErrServerClosed {
			e.t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
}

// testLogger writes to the test's output until the test ends, then drops:
// server goroutines may still log while closing.
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{w: t.Output()}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

// testCert makes a self-signed ECDSA certificate for localhost and 127.0.0.1.
func testCert(t testing.TB) (server, client *tls.Config, certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.example.org"},
		DNSNames:     []string{"mx.example.org", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	server = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	client = &tls.Config{RootCAs: pool, ServerName: "mx.example.org"}
	return server, client, certPEM, keyPEM
}

// wire is a raw SMTP client: it writes exactly what a test says and reads
// replies, so that pipelining, bare line endings and slow clients can be scripted.
type wire struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// dial connects and reads the 220 greeting. A generous deadline only keeps a
// broken server from hanging the test; no assertion depends on timing.
func (e *testEnv) dial() *wire {
	e.t.Helper()
	return dialWire(e.t, e.addr, true)
}

func dialWire(t *testing.T, addr string, greet bool) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(60 * time.Second))
	w := &wire{t: t, c: c, r: bufio.NewReader(c)}
	if greet {
		w.expect(220, "")
	}
	return w
}

func (w *wire) write(s string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, s); err != nil {
		w.t.Fatalf("write %q: %v", s, err)
	}
}

// read returns the next reply: its code and its lines without the code.
func (w *wire) read() (int, []string, error) {
	var lines []string
	for {
		line, err := w.r.ReadString('\n')
		if err != nil {
			return 0, lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		if len(line) < 4 {
			return 0, lines, fmt.Errorf("short reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil {
			return 0, lines, fmt.Errorf("bad reply line %q", line)
		}
		lines = append(lines, line[4:])
		if line[3] == ' ' {
			return code, lines, nil
		}
	}
}

// expect reads a reply and checks its code and, when enh is not empty, that
// its last line starts with that enhanced code. It returns the whole text.
func (w *wire) expect(code int, enh string) string {
	w.t.Helper()
	got, lines, err := w.read()
	if err != nil {
		w.t.Fatalf("reading reply (want %d %s): %v", code, enh, err)
	}
	text := strings.Join(lines, "\n")
	if got != code {
		w.t.Fatalf("reply %d %q, want %d %s", got, text, code, enh)
	}
	if enh != "" && !strings.HasPrefix(lines[len(lines)-1], enh+" ") {
		w.t.Fatalf("reply %d %q, want enhanced code %s", got, text, enh)
	}
	return text
}

// cmd sends one command line and expects a reply.
func (w *wire) cmd(line string, code int, enh string) string {
	w.t.Helper()
	w.write(line + "\r\n")
	return w.expect(code, enh)
}

// closed asserts that the server closes the connection without a further reply.
func (w *wire) closed() {
	w.t.Helper()
	if line, err := w.r.ReadString('\n'); err == nil {
		w.t.Fatalf("connection still open: read %q", line)
	}
}

// timedOut reads replies until a 421 and asserts that the connection then
// closes. A slow client's truncated command line may be answered first (bufio
// returns it as a line on timeout); it may not be a 2xx to MAIL, RCPT or DATA.
func (w *wire) timedOut() {
	w.t.Helper()
	for range 5 {
		code, lines, err := w.read()
		if err != nil {
			w.t.Fatalf("connection closed without 421: %v", err)
		}
		if code == 421 {
			w.closed()
			return
		}
		w.t.Logf("reply before the 421: %d %q", code, lines)
	}
	w.t.Fatalf("no 421")
}

func (w *wire) ehlo() string {
	w.t.Helper()
	return w.cmd("EHLO client.example.net", 250, "")
}

func (w *wire) startTLS(cfg *tls.Config) {
	w.t.Helper()
	w.cmd("STARTTLS", 220, "2.0.0")
	tc := tls.Client(w.c, cfg)
	if err := tc.Handshake(); err != nil {
		w.t.Fatalf("TLS handshake: %v", err)
	}
	w.c = tc
	w.r = bufio.NewReader(tc)
}

// send runs one whole transaction and expects the final reply code.
func (w *wire) send(from string, rcpts []string, msg string, code int, enh string) string {
	w.t.Helper()
	w.cmd("MAIL FROM:<"+from+">", 250, "")
	for _, r := range rcpts {
		w.cmd("RCPT TO:<"+r+">", 250, "")
	}
	w.cmd("DATA", 354, "")
	w.write(msg + ".\r\n")
	return w.expect(code, enh)
}

// testMsg is a small CRLF message with a Subject.
func testMsg(from, subject string) string {
	return "From: " + from + "\r\nTo: someone@example.org\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@test>\r\nDate: Tue, 2 Jan 2024 03:04:05 +0000\r\n\r\nHello.\r\n"
}

// inbox lists an account's INBOX, parsed.
func (e *testEnv) inbox(a *store.Account) []store.Message {
	e.t.Helper()
	return listInbox(e.t, e.st, a.ID)
}

func listInbox(t testing.TB, st store.Store, accountID int64) []store.Message {
	t.Helper()
	mb, err := st.Mailbox(context.Background(), accountID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.List(context.Background(), accountID, mb.ID, nil, store.ListOptions{Parsed: true})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// raw reads a stored message's bytes.
func (e *testEnv) raw(m store.Message) string {
	e.t.Helper()
	rc, err := e.st.Open(context.Background(), m.BlobID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// subjects returns the Subject of each message.
func subjects(msgs []store.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Parsed.Subject)
	}
	return out
}

// writeFile writes a file for an external tool.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// deadline is a safety net against a hung server, not an assertion.
func deadline() time.Time { return time.Now().Add(60 * time.Second) }

// startTLSAfterReply runs the handshake once the 220 reply was read.
func (w *wire) startTLSAfterReply(cfg *tls.Config) {
	w.t.Helper()
	tc := tls.Client(w.c, cfg)
	if err := tc.Handshake(); err != nil {
		w.t.Fatalf("TLS handshake: %v", err)
	}
	w.c = tc
	w.r = bufio.NewReader(tc)
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func dialRaw(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) }

func (e *testEnv) dialIP() netip.Addr { return netip.MustParseAddr("127.0.0.1") }
