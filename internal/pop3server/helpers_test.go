package pop3server

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
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

const (
	alice   = "alice@example.org"
	alicePw = "open sesame 1" // has a space: PASS takes the rest of the line
	// ioWait bounds every client read in tests so that a broken server fails
	// the test instead of hanging it; it is not a speed assertion.
	ioWait = 30 * time.Second
)

// logBuffer collects the server's log for assertions (no passwords, no panics).
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns the log so far and empties the buffer.
func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// env is one test's world: a real store (testopen), an account, and
// a server on a real loopback listener.
type env struct {
	t     testing.TB
	loc   *testopen.Location // reopened by restart
	st    store.Store
	acct  *store.Account
	inbox int64
	opts  Options
	srv   *Server
	addr  string
	logs  *logBuffer
	serve chan error
	// secrets must never appear in the log.
	secrets []string
}

type envOpt func(*env)

func withOptions(f func(*Options)) envOpt { return func(e *env) { f(&e.opts) } }

// withTLS gives the server a certificate: STLS is offered.
func withTLS() envOpt {
	return func(e *env) { e.opts.TLS = serverTLS(e.t) }
}

// noDev turns dev mode off: credentials need TLS even on loopback.
func noDev() envOpt { return func(e *env) { e.opts.Dev = false } }

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	loc := testopen.New(t, testopen.FastPasswords)
	st := loc.Open(t)
	e := &env{t: t, loc: loc, st: st, logs: &logBuffer{}, secrets: []string{alicePw}}
	e.acct = storetest.NewAccount(t, st, alice, alicePw)
	mb, err := st.Mailbox(context.Background(), e.acct.ID, "INBOX")
	if err != nil {
		t.Fatalf("INBOX: %v", err)
	}
	e.inbox = mb.ID
	e.opts = Options{
		Store:    st,
		Hostname: "pop.example.org",
		Dev:      true,
		Logger:   slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Limiter:  authlimit.New(authlimit.Config{}),
	}
	for _, o := range opts {
		o(e)
	}
	e.start(nil)
	t.Cleanup(func() {
		e.stop()
		st.Close()
		logs := e.logs.String()
		for _, s := range e.secrets {
			if s != "" && strings.Contains(logs, s) {
				t.Errorf("a secret (%q) appears in the server log", s)
			}
		}
		if strings.Contains(logs, "panic serving connection") && !strings.Contains(t.Name(), "Panic") {
			t.Errorf("server recovered a panic:\n%s", logs)
		}
	})
	return e
}

// start runs a new server on a fresh loopback listener; wrap, if set, wraps
// the listener (implicit TLS).
func (e *env) start(wrap func(net.Listener) net.Listener) {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	e.addr = ln.Addr().String()
	if wrap != nil {
		ln = wrap(ln)
	}
	e.srv = New(e.opts)
	e.serve = make(chan error, 1)
	srv := e.srv
	go func() { e.serve <- srv.Serve(ln) }()
}

// stop shuts the server down and checks that Serve returned ErrServerClosed.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		e.t.Errorf("Shutdown: %v", err)
	}
	if err := <-e.serve; !errors.Is(err, ErrServerClosed) {
		e.t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
	e.srv = nil
}

// restart stops the server, closes and reopens the store (as after a process
// restart) and starts a new server on a new port.
func (e *env) restart() {
	e.t.Helper()
	e.stop()
	if err := e.st.Close(); err != nil {
		e.t.Fatalf("close store: %v", err)
	}
	st := e.loc.Open(e.t)
	e.st = st
	e.opts.Store = st
	e.start(nil)
}

// deliver stores raw in alice's INBOX as a delivery would and returns its UID.
func (e *env) deliver(raw []byte) uint32 {
	e.t.Helper()
	res, err := e.st.Deliver(context.Background(), store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: e.acct.ID}}})
	if err != nil || res[0].Err != nil {
		e.t.Fatalf("deliver: %v %v", err, res)
	}
	return res[0].UID
}

// appendRaw stores raw as IMAP APPEND would: bytes as given, bare LF allowed.
func (e *env) appendRaw(raw []byte) uint32 {
	e.t.Helper()
	res, err := e.st.Append(context.Background(), e.acct.ID, e.inbox, raw, nil, time.Time{})
	if err != nil {
		e.t.Fatalf("append: %v", err)
	}
	return res.UID
}

// inboxUIDs lists the UIDs in alice's INBOX as the store has them.
func (e *env) inboxUIDs() []uint32 {
	e.t.Helper()
	return e.uids(e.inbox)
}

func (e *env) uids(mailboxID int64) []uint32 {
	e.t.Helper()
	list, err := e.st.List(context.Background(), e.acct.ID, mailboxID, nil, store.ListOptions{})
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	var out []uint32
	for _, m := range list {
		out = append(out, m.UID)
	}
	return out
}

func (e *env) mailbox(name string) *store.Mailbox {
	e.t.Helper()
	mb, err := e.st.Mailbox(context.Background(), e.acct.ID, name)
	if err != nil {
		e.t.Fatalf("mailbox %s: %v", name, err)
	}
	return mb
}

// waitIdle waits until the server has finished every connection, for tests
// that drop a connection and need its maildrop lock released.
func (e *env) waitIdle() {
	e.t.Helper()
	e.waitIdleTB(e.t)
}

func (e *env) waitIdleTB(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(ioWait)
	for e.srv.activeConns() > 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("server still has %d connections", e.srv.activeConns())
		}
		time.Sleep(time.Millisecond)
	}
}

// msg builds a distinct CRLF message.
func msg(subject, body string) []byte {
	return storetest.Msg{Subject: subject, Body: body}.Bytes()
}

// client is a raw-wire POP3 client.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

// dial connects and checks the greeting.
func (e *env) dial() *client {
	e.t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr, ioWait)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	c := &client{t: e.t, nc: nc, r: bufio.NewReader(nc)}
	e.t.Cleanup(func() { nc.Close() })
	if g := c.line(); !strings.HasPrefix(g, "+OK ") {
		e.t.Fatalf("greeting %q", g)
	}
	return c
}

// login dials and logs alice in with USER/PASS.
func (e *env) login() *client {
	e.t.Helper()
	c := e.dial()
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	return c
}

func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// line reads one response line without CRLF; every line must end in CRLF.
func (c *client) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

func (c *client) cmd(s string) string {
	c.t.Helper()
	c.send(s + "\r\n")
	return c.line()
}

func (c *client) ok(s string) string {
	c.t.Helper()
	r := c.cmd(s)
	if !strings.HasPrefix(r, "+OK") {
		c.t.Fatalf("%q: got %q, want +OK", redact(s), r)
	}
	return r
}

// fail sends s and wants -ERR starting with prefix (e.g. "-ERR [AUTH]").
func (c *client) fail(s, prefix string) string {
	c.t.Helper()
	r := c.cmd(s)
	if !strings.HasPrefix(r, prefix) {
		c.t.Fatalf("%q: got %q, want %q...", redact(s), r, prefix)
	}
	return r
}

func redact(s string) string {
	if strings.HasPrefix(strings.ToUpper(s), "PASS ") {
		return "PASS ***"
	}
	return s
}

// raw reads a multi-line body up to and without the terminating ".", as sent
// (still dot-stuffed), with CRLFs.
func (c *client) raw() []byte {
	c.t.Helper()
	var b []byte
	for {
		c.nc.SetReadDeadline(time.Now().Add(ioWait))
		s, err := c.r.ReadBytes('\n')
		if err != nil {
			c.t.Fatalf("read multi-line: %v", err)
		}
		if !bytes.HasSuffix(s, []byte("\r\n")) {
			c.t.Fatalf("multi-line line %q does not end in CRLF", s)
		}
		if string(s) == ".\r\n" {
			return b
		}
		b = append(b, s...)
	}
}

// body reads a multi-line body and un-stuffs it (RFC 1939 3).
func (c *client) body() []byte {
	c.t.Helper()
	return unstuff(c.raw())
}

func unstuff(b []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(b, []byte("\r\n")) {
		out = append(out, bytes.TrimPrefix(l, []byte("."))...)
	}
	return out
}

// lines reads a multi-line response as lines.
func (c *client) lines() []string {
	c.t.Helper()
	b := c.body()
	if len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n")
}

// expectEOF reads until the server closes and returns what came before.
func (c *client) expectEOF() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	b, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("waiting for close: %v (got %q)", err, b)
	}
	return string(b)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// startTLS upgrades the client after a +OK to STLS.
func (c *client) startTLS() {
	c.t.Helper()
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true, ServerName: "pop.example.org"})
	tc.SetDeadline(time.Now().Add(ioWait))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc = tc
	c.r = bufio.NewReader(tc)
}

// serverTLS makes a self-signed certificate for 127.0.0.1 and pop.example.org.
func serverTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pop.example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"pop.example.org", "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}

// wireForm is the reference for what RETR must deliver (after un-stuffing):
// each line, split at LF, with one CR before the LF removed, ended by CRLF.
func wireForm(raw []byte) []byte {
	if len(raw) == 0 {
		return nil
	}
	var out []byte
	lines := bytes.Split(raw, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		out = append(out, bytes.TrimSuffix(l, []byte("\r"))...)
		out = append(out, '\r', '\n')
	}
	return out
}

// needTool fails (never skips) when an interop tool is missing.
func needTool(t testing.TB, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install -y %s)", name, debPackage, debPackage)
	}
	return p
}

// sizeOf parses "+OK n size" or "n size" and returns size.
func sizeOf(t testing.TB, s string) int {
	t.Helper()
	f := strings.Fields(strings.TrimPrefix(s, "+OK"))
	var n int
	if len(f) < 2 {
		t.Fatalf("no size in %q", s)
	}
	if _, err := fmt.Sscanf(f[1], "%d", &n); err != nil {
		t.Fatalf("no size in %q", s)
	}
	return n
}
