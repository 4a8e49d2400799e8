package smtpserver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/connlimit"
	"gannet/internal/login"
)

func plain(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// login runs STARTTLS, EHLO and AUTH PLAIN as alice.
func (e *testEnv) login() *wire {
	e.t.Helper()
	w := e.dial()
	w.ehlo()
	w.startTLS(e.clientTLS)
	w.ehlo()
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "2.0.0")
	return w
}

func TestSubmissionRequiresTLSAndAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	w := e.dial()
	caps := w.ehlo()
	if !strings.Contains(caps, "STARTTLS") || strings.Contains(caps, "AUTH") {
		t.Errorf("before TLS EHLO says %q; want STARTTLS and no AUTH", caps)
	}
	// No password in the clear (RFC 4954 4, RFC 8314).
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 538, "5.7.11")
	w.cmd("AUTH LOGIN", 538, "5.7.11")
	w.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
	w.startTLS(e.clientTLS)
	caps = w.ehlo()
	if !strings.Contains(caps, "AUTH PLAIN LOGIN") || strings.Contains(caps, "STARTTLS") {
		t.Errorf("under TLS EHLO says %q; want AUTH PLAIN LOGIN", caps)
	}
	w.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
	w.cmd("AUTH PLAIN "+plain("alice@example.org", "wrong"), 535, "5.7.8")
	w.cmd("AUTH PLAIN "+plain("nobody@example.org", alicePW), 535, "5.7.8")
	w.cmd("AUTH CRAM-MD5", 504, "5.5.4")
	// PLAIN with an authorization identity of another user: refused.
	w.cmd("AUTH PLAIN "+b64("bob@example.org\x00alice@example.org\x00"+alicePW), 535, "5.7.8")
	// PLAIN without an initial response (RFC 4954 4: empty challenge).
	w.cmd("AUTH PLAIN", 334, "")
	w.cmd(plain("alice@example.org", alicePW), 235, "2.0.0")
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 503, "5.5.1")
	w.cmd("MAIL FROM:<alice@example.org>", 250, "")
}

func TestSubmissionAuthLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	w := e.dial()
	w.ehlo()
	w.startTLS(e.clientTLS)
	w.ehlo()
	if got := w.cmd("AUTH LOGIN", 334, ""); got != b64("Username:") {
		t.Errorf("first LOGIN challenge %q", got)
	}
	if got := w.cmd(b64("bob@example.org"), 334, ""); got != b64("Password:") {
		t.Errorf("second LOGIN challenge %q", got)
	}
	w.cmd(b64(bobPW), 235, "2.0.0")
	// Cancelled exchange (RFC 4954 4).
	w2 := e.dial()
	w2.ehlo()
	w2.startTLS(e.clientTLS)
	w2.ehlo()
	w2.cmd("AUTH LOGIN "+b64("bob@example.org"), 334, "")
	w2.cmd("*", 501, "")
	w2.cmd("MAIL FROM:<bob@example.org>", 530, "5.7.0")
}

func TestSubmissionDevLoopback(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, func(o *Options) { o.Dev = true })
	w := e.dial()
	if caps := w.ehlo(); !strings.Contains(caps, "AUTH PLAIN LOGIN") {
		t.Errorf("dev mode on loopback: EHLO %q lacks AUTH", caps)
	}
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "2.0.0")
	w.send("alice@example.org", []string{"bob@example.org"}, testMsg("alice@example.org", "dev"), 250, "2.0.0")
	raw := e.raw(e.inbox(e.bob)[0])
	if !strings.Contains(raw, " with ESMTPA id ") {
		t.Errorf("Received of an authenticated plaintext session: %q", raw[:min(300, len(raw))])
	}
}

func TestSubmissionSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	ctx := context.Background()
	if err := e.st.AddAlias(ctx, "sales@example.org", []string{"alice@example.org", "bob@example.org"}); err != nil {
		t.Fatal(err)
	}
	w := e.login()
	// The envelope sender must be the account's: itself, an alias, a +tag.
	for _, from := range []string{"bob@example.org", "carol@example.org", "alice@remote.example", "alice@example.org.evil.example"} {
		w.cmd("MAIL FROM:<"+from+">", 550, "5.7.1")
	}
	w.cmd("MAIL FROM:<>", 550, "5.7.1")
	for _, from := range []string{"alice@example.org", "ALICE@Example.Org", "sales@example.org", "alice+lists@example.org"} {
		w.cmd("MAIL FROM:<"+from+">", 250, "")
		w.cmd("RSET", 250, "")
	}
	// The From: header too.
	bad := []string{
		"From: bob@example.org\r\nSubject: forged\r\n\r\nx\r\n",
		"From: Alice <alice@example.org>, Bob <bob@example.org>\r\nSubject: two\r\n\r\nx\r\n",
		"From: \"alice@example.org\" <bob@example.org>\r\nSubject: display\r\n\r\nx\r\n",
	}
	for _, msg := range bad {
		w.send("alice@example.org", []string{"carol@example.org"}, msg, 550, "5.7.1")
	}
	w.send("alice@example.org", []string{"carol@example.org"},
		"From: alice@example.org\r\nFrom: bob@example.org\r\nSubject: two fields\r\n\r\nx\r\n", 550, "5.6.0")
	w.send("alice@example.org", []string{"carol@example.org"}, "Subject: no from\r\n\r\nx\r\n", 550, "5.6.0")
	if n := len(e.inbox(e.carol)); n != 0 {
		t.Fatalf("carol got %d forged messages", n)
	}
	good := []string{
		"From: Alice <alice@example.org>\r\nSubject: plain\r\n\r\nx\r\n",
		"From: =?utf-8?q?Alice_L?= <Alice+x@EXAMPLE.org>\r\nSubject: tagged\r\n\r\nx\r\n",
		"From: Sales <sales@example.org>\r\nSubject: alias\r\n\r\nx\r\n",
	}
	for _, msg := range good {
		w.send("alice@example.org", []string{"carol@example.org"}, msg, 250, "2.0.0")
	}
	if got := subjects(e.inbox(e.carol)); !slices.Equal(got, []string{"plain", "tagged", "alias"}) {
		t.Fatalf("carol got %q", got)
	}
}

func TestSubmissionLocalAndRemote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	w := e.login()
	w.cmd("MAIL FROM:<alice@example.org> RET=HDRS ENVID=env42", 250, "")
	w.cmd("RCPT TO:<bob@example.org>", 250, "")
	w.cmd("RCPT TO:<friend@remote.example> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;friend@remote.example", 250, "")
	w.cmd("RCPT TO:<other@elsewhere.example>", 250, "")
	w.cmd("RCPT TO:<nobody@example.org>", 550, "5.1.1") // local but unknown: refused even when authenticated
	w.cmd("DATA", 354, "")
	body := "From: Alice <alice@example.org>\r\nTo: bob@example.org, friend@remote.example\r\nSubject: hi all\r\n\r\nHello.\r\n"
	w.write(body + ".\r\n")
	w.expect(250, "2.0.0")

	msgs := e.inbox(e.bob)
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages, want 1", len(msgs))
	}
	local := e.raw(msgs[0])
	q := e.q.all()
	if len(q) != 1 {
		t.Fatalf("%d messages queued, want 1", len(q))
	}
	m := q[0]
	if m.From != "alice@example.org" || !slices.Equal(m.Recipients, []string{"friend@remote.example", "other@elsewhere.example"}) ||
		m.AccountID != e.alice.ID || m.EnvID != "env42" || m.Ret != "HDRS" {
		t.Errorf("queued: From %q Recipients %q AccountID %d EnvID %q Ret %q", m.From, m.Recipients, m.AccountID, m.EnvID, m.Ret)
	}
	if m.Notify["friend@remote.example"] != "SUCCESS,FAILURE" || m.ORcpt["friend@remote.example"] != "rfc822;friend@remote.example" /* the type is lower-cased */ {
		t.Errorf("queued DSN parameters: %v %v", m.Notify, m.ORcpt)
	}
	if _, ok := m.ORcpt["other@elsewhere.example"]; ok {
		t.Errorf("ORCPT invented for a direct recipient: %v", m.ORcpt)
	}
	remote := string(m.Raw)
	// RFC 6409 8.2, 8.3: Date and Message-ID are added when missing.
	for name, raw := range map[string]string{"local": local, "queued": remote} {
		if !strings.Contains(raw, " with ESMTPSA id ") || !strings.Contains(raw, "\r\nDate: ") ||
			!strings.Contains(raw, "\r\nMessage-ID: <") || !strings.Contains(raw, "@mx.example.org>\r\n") ||
			!strings.HasSuffix(raw, body) {
			t.Errorf("%s copy: %q", name, raw)
		}
	}
	if !strings.HasPrefix(local, "Return-Path: <alice@example.org>\r\n") || strings.Contains(remote, "Return-Path") {
		t.Errorf("Return-Path belongs to the local copy only")
	}
	// Local and queued copies are the same message.
	if local[strings.Index(local, "Received:"):] != remote {
		t.Errorf("local and queued copies differ beyond Return-Path")
	}
}

// TestSubmissionImplicitTLS serves a tls.NewListener listener (port 465).
func TestSubmissionImplicitTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission, func(o *Options) { o.Conns = connlimit.New(1) })
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.serve(tls.NewListener(raw, e.serverTLS))
	c, err := tls.Dial("tcp", raw.Addr().String(), e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline())
	w := &wire{t: t, c: c, r: newReader(c)}
	w.expect(220, "")
	caps := w.ehlo()
	if strings.Contains(caps, "STARTTLS") || !strings.Contains(caps, "AUTH PLAIN LOGIN") {
		t.Errorf("implicit TLS EHLO: %q", caps)
	}
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "2.0.0")
	w.send("alice@example.org", []string{"bob@example.org"}, testMsg("alice@example.org", "over 465"), 250, "2.0.0")
	if got := e.raw(e.inbox(e.bob)[0]); !strings.Contains(got, " with ESMTPSA id ") || !strings.Contains(got, "\ttls TLS_") {
		t.Errorf("Received over implicit TLS: %q", got[:min(400, len(got))])
	}
	// The per-IP limit counts TLS connections too: a second one is refused
	// with 421 4.7.0, inside TLS (netserver's refusal).
	c2, err := tls.Dial("tcp", raw.Addr().String(), e.clientTLS)
	if err != nil {
		t.Fatalf("second TLS connection: %v", err)
	}
	defer c2.Close()
	c2.SetDeadline(deadline())
	w2 := &wire{t: t, c: c2, r: newReader(c2)}
	w2.expect(421, "4.7.0")
	w2.closed()
}

// TestBruteForce: failures are counted in the shared limiter; answers are
// delayed once a few failures pile up, and then the client is refused even
// with the right password.
func TestBruteForce(t *testing.T) {
	t.Parallel()
	lim := authlimit.New(authlimit.Config{PerMinute: 3, MaxDelay: time.Millisecond})
	d := &delayLog{}
	e := newEnv(t, Submission, d.options(lim))
	w := e.dial()
	w.ehlo()
	w.startTLS(e.clientTLS)
	w.ehlo()
	for i := range 4 {
		d.attempt(i)
		w.cmd("AUTH PLAIN "+plain("alice@example.org", "guess"), 535, "5.7.8")
	}
	d.attempt(4)
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 454, "4.7.0")
	// Another connection from the same address is blocked too.
	w2 := e.login2()
	w2.cmd("AUTH PLAIN "+plain("bob@example.org", bobPW), 454, "4.7.0")
	if got := d.delayed(); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("attempts delayed before their answers: %v; want none of the first two failures, then the next ones [2 3]", got)
	}
	if _, err := lim.Check(netip.MustParseAddr("127.0.0.1"), ""); err == nil {
		t.Errorf("the shared limiter does not block 127.0.0.1")
	}
}

// delayLog records which attempts the login service delayed: the test calls
// attempt(i) before the i-th attempt, sequentially.
type delayLog struct {
	mu  sync.Mutex
	cur int
	got []int
}

// options gives the server a login service over lim that records its delays
// instead of sleeping.
func (d *delayLog) options(lim *authlimit.Limiter) func(*Options) {
	return func(o *Options) {
		o.Limiter = lim
		o.Login = login.New(o.Store, lim, login.Config{Sleep: func(ctx context.Context, dur time.Duration) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			if dur > 0 {
				d.got = append(d.got, d.cur)
			}
			return nil
		}})
	}
}

func (d *delayLog) attempt(i int) {
	d.mu.Lock()
	d.cur = i
	d.mu.Unlock()
}

func (d *delayLog) delayed() []int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

// login2 opens a TLS session without authenticating.
func (e *testEnv) login2() *wire {
	e.t.Helper()
	w := e.dial()
	w.ehlo()
	w.startTLS(e.clientTLS)
	w.ehlo()
	return w
}
