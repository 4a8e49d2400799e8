package app

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"gannet/internal/config"
)

// connApp starts a dev Gannet without TLS with every plain listener on
// loopback and the given connection limits.
func connApp(t *testing.T, perIP, total int) *App {
	t.Helper()
	cfg := config.DevConfig(t.TempDir())
	cfg.Domains = []string{"limits.test"}
	cfg.TLS = config.TLS{}
	cfg.Listeners = config.Listeners{
		SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", IMAP: "127.0.0.1:0", POP3: "127.0.0.1:0",
		HTTP: "127.0.0.1:0", Admin: "127.0.0.1:0",
	}
	cfg.Limits.MaxConnectionsPerIP = perIP
	cfg.Limits.MaxConnections = total
	a, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// dialSrc connects to a's listener name from the loopback address src.
func dialSrc(t *testing.T, a *App, name, src string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: ioWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", listener(t, a, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioWait))
	return c
}

// greeted dials and waits for the server's first line (HTTP: none).
func greeted(t *testing.T, a *App, name, src string) net.Conn {
	t.Helper()
	c := dialSrc(t, a, name, src)
	if name == "webmail" || name == "admin" {
		return c
	}
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || strings.HasPrefix(l, "-") || strings.HasPrefix(l, "4") || strings.Contains(l, "BYE") {
		t.Fatalf("%s from %s: %q %v", name, src, l, err)
	}
	return c
}

// refusals are each protocol's answer to a connection over the limits.
var refusals = map[string]string{
	"smtp":       "421 4.7.0 localhost Too many connections, try again later\r\n",
	"submission": "421 4.7.0 localhost Too many connections, try again later\r\n",
	"imap":       "* BYE [UNAVAILABLE] Too many connections; try again later\r\n",
	"pop3":       "-ERR [SYS/TEMP] too many connections, try again later\r\n",
	"webmail":    "HTTP/1.1 503 Service Unavailable\r\n",
	"admin":      "HTTP/1.1 503 Service Unavailable\r\n",
}

// expectRefused dials name from src and checks the protocol's refusal.
func expectRefused(t *testing.T, a *App, name, src string) {
	t.Helper()
	c := dialSrc(t, a, name, src)
	if name == "webmail" || name == "admin" {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: limits.test\r\n\r\n")
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s from %s: %v after %q", name, src, err, got)
	}
	if want := refusals[name]; !strings.HasPrefix(string(got), want) {
		t.Errorf("%s from %s over the limit: %q, want %q", name, src, got, want)
	}
}

// TestSharedConnectionLimit (issue 13, finding 3): one limiter for every
// listener. Three connections from one address on three protocols fill its
// max_connections_per_ip of 3, and then every protocol refuses that address
// in its own words while another address is served; the admin /metrics
// counts connections per protocol.
func TestSharedConnectionLimit(t *testing.T) {
	t.Parallel()
	a := connApp(t, 3, 0)
	const flood = "127.0.0.5"
	greeted(t, a, "imap", flood)
	greeted(t, a, "pop3", flood)
	greeted(t, a, "smtp", flood)
	for _, name := range []string{"smtp", "submission", "imap", "pop3", "webmail", "admin"} {
		expectRefused(t, a, name, flood)
	}
	greeted(t, a, "imap", "127.0.0.6")
	resp, err := http.Get("http://" + listener(t, a, "admin") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`gannet_connections{proto="imap"} 2`,
		`gannet_connections{proto="pop3"} 1`,
		`gannet_connections_refused_total{proto="imap",reason="per_ip"} 1`,
		`gannet_connections_refused_total{proto="http",reason="per_ip"} 1`,
		`gannet_connections_refused_total{proto="smtp",reason="per_ip"} 1`,
	} {
		if !bytes.Contains(body, []byte(want+"\n")) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	if !regexp.MustCompile(`(?m)^gannet_connections_limit [1-9][0-9]*$`).Match(body) {
		t.Errorf("/metrics lacks a total limit sized from RLIMIT_NOFILE:\n%s", body)
	}
}

// TestTotalConnectionLimit: max_connections counts every listener, whatever
// the addresses.
func TestTotalConnectionLimit(t *testing.T) {
	t.Parallel()
	a := connApp(t, 0, 2)
	greeted(t, a, "imap", "127.0.0.7")
	greeted(t, a, "pop3", "127.0.0.8")
	for _, name := range []string{"smtp", "submission", "imap", "pop3", "webmail", "admin"} {
		expectRefused(t, a, name, "127.0.0.9")
	}
}

// TestWebmailPlainHTTP (finding 9): a production server without TLS served
// the webmail login over plain HTTP with a non-Secure cookie on every
// address. Now it refuses to start unless the listener is on loopback or
// [webmail] allow_plain_http says a TLS-terminating proxy is in front; then
// it says so loudly.
func TestWebmailPlainHTTP(t *testing.T) {
	t.Parallel()
	prod := func(http string, allow bool) (*App, *bytes.Buffer) {
		cfg := config.Default()
		cfg.Hostname = "mail.example.com"
		cfg.DataDir = t.TempDir()
		cfg.Listeners = config.Listeners{HTTP: http}
		cfg.Webmail.AllowPlainHTTP = allow
		var logs bytes.Buffer
		a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Store.Close() })
		return a, &logs
	}
	a, _ := prod(":0", false)
	err := a.checkPlainHTTP()
	if err == nil || !strings.Contains(err.Error(), "allow_plain_http") {
		t.Fatalf("plain HTTP webmail on every address: %v, want a refusal naming allow_plain_http", err)
	}
	// Start refuses before binding anything.
	if err := a.Start(context.Background()); err == nil {
		a.Close()
		t.Fatal("Start served the webmail over plain HTTP on every address")
	}
	a, logs := prod("[::]:0", true)
	if err := a.checkPlainHTTP(); err != nil {
		t.Fatalf("with allow_plain_http: %v", err)
	}
	if !strings.Contains(logs.String(), "WEBMAIL SERVES PLAIN HTTP") {
		t.Errorf("allowed plain HTTP not logged loudly: %s", logs)
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:8080", "localhost:8080"} {
		a, _ := prod(addr, false)
		if err := a.checkPlainHTTP(); err != nil {
			t.Errorf("loopback %s: %v", addr, err)
		}
	}
}

// TestAppEndAccount: App.EndAccount ends the account's IMAP and POP3
// sessions (IMAP BYE, POP3 -ERR) and no other.
func TestAppEndAccount(t *testing.T) {
	t.Parallel()
	a := connApp(t, 0, 0)
	acct, err := a.Store.AddAccount(t.Context(), "end@limits.test", "end pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.AddAccount(t.Context(), "other@limits.test", "other pw"); err != nil {
		t.Fatal(err)
	}
	session := func(name, user, pw string) (net.Conn, *bufio.Reader) {
		c := greeted(t, a, name, "127.0.0.1")
		r := bufio.NewReader(c)
		if name == "imap" {
			io.WriteString(c, "a LOGIN "+user+` "`+pw+`"`+"\r\n")
		} else {
			io.WriteString(c, "USER "+user+"\r\nPASS "+pw+"\r\n")
			r.ReadString('\n')
		}
		if l, err := r.ReadString('\n'); err != nil || (!strings.HasPrefix(l, "a OK") && !strings.HasPrefix(l, "+OK")) {
			t.Fatalf("%s login: %q %v", name, l, err)
		}
		return c, r
	}
	_, imap := session("imap", "end@limits.test", "end pw")
	_, pop := session("pop3", "end@limits.test", "end pw")
	oc, other := session("imap", "other@limits.test", "other pw")
	if n := a.EndAccount(acct.ID); n != 2 {
		t.Fatalf("EndAccount = %d, want 2", n)
	}
	for name, r := range map[string]*bufio.Reader{"imap": imap, "pop3": pop} {
		rest, _ := io.ReadAll(r)
		if !strings.HasPrefix(string(rest), map[string]string{"imap": "* BYE ", "pop3": "-ERR "}[name]) {
			t.Errorf("%s session after EndAccount: %q", name, rest)
		}
	}
	io.WriteString(oc, "b NOOP\r\n")
	if l, err := other.ReadString('\n'); !strings.HasPrefix(l, "b OK") {
		t.Errorf("another account's session: %q %v", l, err)
	}
	if n := a.EndAccount(acct.ID); n != 0 {
		t.Errorf("second EndAccount = %d", n)
	}
}
