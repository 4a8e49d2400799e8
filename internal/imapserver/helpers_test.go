package imapserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"gannet/internal/imapserver"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

const (
	testUser = "alice@example.org"
	testPass = "correct horse"
	// ioWait bounds how long a test waits for a response that should come;
	// it only stops a broken test from hanging, it measures nothing.
	ioWait = 20 * time.Second
)

// env is one server on a real listener over a real store (testopen).
type env struct {
	t    testing.TB
	st   store.Store
	srv  *imapserver.Server
	addr string
	acct *store.Account
}

type envOption func(*imapserver.Options)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, testUser, testPass)
	o := imapserver.Options{
		Store:    st,
		Hostname: "mx.example.org",
		Dev:      true,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	for _, f := range opts {
		f(&o)
	}
	srv := imapserver.New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		<-done
		st.Close()
	})
	return &env{t: t, st: st, srv: srv, addr: ln.Addr().String(), acct: acct}
}

// mailbox returns a mailbox of the test account.
func (e *env) mailbox(name string) *store.Mailbox {
	e.t.Helper()
	mb, err := e.st.Mailbox(context.Background(), e.acct.ID, name)
	if err != nil {
		e.t.Fatalf("Mailbox(%q): %v", name, err)
	}
	return mb
}

// deliver puts messages into a mailbox as SMTP delivery does.
// deliver stores messages as an MX would. They are then seen (not
// \Recent: as if another session had been told of them first), so that
// the sessions of most tests answer as IMAP4rev2 ones would; TestRecent
// uses deliverRecent.
func (e *env) deliver(mailbox string, msgs ...storetest.Msg) []uint32 {
	e.t.Helper()
	uids := e.deliverRecent(mailbox, msgs...)
	if len(uids) > 0 {
		name := mailbox
		if name == "" {
			name = "INBOX"
		}
		mb := e.mailbox(name)
		if _, err := e.st.ClaimRecent(context.Background(), e.acct.ID, mb.ID, mb.UIDNext); err != nil {
			e.t.Fatalf("ClaimRecent: %v", err)
		}
	}
	return uids
}

// deliverRecent stores messages as an MX would, leaving them \Recent to
// the first session told of them.
func (e *env) deliverRecent(mailbox string, msgs ...storetest.Msg) []uint32 {
	e.t.Helper()
	var uids []uint32
	for _, m := range msgs {
		res, err := e.st.Deliver(context.Background(), store.Delivery{
			Raw:        m.Bytes(),
			Recipients: []store.Recipient{{AccountID: e.acct.ID, Mailbox: mailbox}},
		})
		if err != nil || res[0].Err != nil {
			e.t.Fatalf("Deliver: %v %v", err, res)
		}
		uids = append(uids, res[0].UID)
	}
	return uids
}

// client logs in with go-imap's imapclient.
func (e *env) client(opts *imapclient.Options) *imapclient.Client {
	e.t.Helper()
	c, err := imapclient.DialInsecure(e.addr, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		e.t.Fatalf("Login: %v", err)
	}
	return c
}

// wire is a raw protocol client for edge cases.
type wire struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

func (e *env) dial() *wire { return e.dialT(e.t) }

// dialT dials for test t (a fuzz target's t rather than the env's F).
func (e *env) dialT(t testing.TB) *wire {
	t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	w := &wire{t: t, nc: nc, r: bufio.NewReader(nc)}
	if g := w.line(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting = %q", g)
	}
	return w
}

// login dials and logs in.
func (e *env) login() *wire { return e.loginT(e.t) }

func (e *env) loginT(t testing.TB) *wire {
	w := e.dialT(t)
	w.cmd("L LOGIN " + testUser + ` "` + testPass + `"`)
	return w
}

func (w *wire) startTLS(cfg *tls.Config) {
	w.t.Helper()
	tc := tls.Client(w.nc, cfg)
	w.nc = tc
	w.r = bufio.NewReader(tc)
}

func (w *wire) send(s string) {
	w.t.Helper()
	w.nc.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := io.WriteString(w.nc, s+"\r\n"); err != nil {
		w.t.Fatalf("send %q: %v", s, err)
	}
}

func (w *wire) sendRaw(s string) {
	w.t.Helper()
	w.nc.SetWriteDeadline(time.Now().Add(ioWait))
	if _, err := io.WriteString(w.nc, s); err != nil {
		w.t.Fatalf("send: %v", err)
	}
}

// line reads one line without CRLF.
func (w *wire) line() string {
	w.t.Helper()
	w.nc.SetReadDeadline(time.Now().Add(ioWait))
	l, err := w.r.ReadString('\n')
	if err != nil {
		w.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// readN reads exactly n octets (literal data).
func (w *wire) readN(n int) string {
	w.t.Helper()
	w.nc.SetReadDeadline(time.Now().Add(ioWait))
	b := make([]byte, n)
	if _, err := io.ReadFull(w.r, b); err != nil {
		w.t.Fatalf("read literal: %v", err)
	}
	return string(b)
}

// until reads lines up to and including the tagged response of tag; it
// returns the untagged lines and the tagged one. Literals are inlined.
func (w *wire) until(tag string) ([]string, string) {
	w.t.Helper()
	var out []string
	for {
		l := w.line()
		for strings.HasSuffix(l, "}") {
			i := strings.LastIndexByte(l, '{')
			if i < 0 {
				break
			}
			n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(l[i+1:len(l)-1], "+"), "~"))
			if err != nil {
				break
			}
			head := l[:i]
			head = strings.TrimSuffix(head, "~")
			l = head + w.readN(n) + w.line()
		}
		if strings.HasPrefix(l, tag+" ") {
			return out, l
		}
		out = append(out, l)
	}
}

// cmd sends "tag command" and expects tag OK; it returns the untagged lines.
func (w *wire) cmd(s string) []string {
	w.t.Helper()
	tag, _, _ := strings.Cut(s, " ")
	w.send(s)
	lines, done := w.until(tag)
	if !strings.HasPrefix(done, tag+" OK") {
		w.t.Fatalf("%q: got %q (untagged %q)", s, done, lines)
	}
	return lines
}

// status sends a command and returns its tagged response line.
func (w *wire) status(s string) (string, []string) {
	w.t.Helper()
	tag, _, _ := strings.Cut(s, " ")
	w.send(s)
	lines, done := w.until(tag)
	return done, lines
}

// expectClosed checks that the server closes the connection.
func (w *wire) expectClosed() []string {
	w.t.Helper()
	var lines []string
	w.nc.SetReadDeadline(time.Now().Add(ioWait))
	for {
		l, err := w.r.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return lines
			}
			w.t.Fatalf("expected close, got %v after %q", err, lines)
		}
		lines = append(lines, strings.TrimRight(l, "\r\n"))
	}
}

func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func hasPrefix(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}
