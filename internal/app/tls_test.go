package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gannet/internal/config"
)

// Production-mode test fixtures: Dev is false, so every rule meant for the
// internet applies, even though the clients are on loopback.
const (
	prodDomain   = "prod.test"
	prodHost     = "mx.prod.test"
	prodUser     = "alice@prod.test"
	prodPassword = "correct horse battery"
	// ioWait bounds how long a test waits for an answer that should come; it
	// only stops a broken test from hanging and measures nothing.
	ioWait = 30 * time.Second
)

// prodEnv is a production-mode Gannet on loopback ports.
type prodEnv struct {
	app      *App
	certFile string         // the self-signed certificate, PEM
	roots    *x509.CertPool // trusts certFile
}

// prodApp starts a whole Gannet with Dev=false, a self-signed certificate for
// prodHost and every listener on 127.0.0.1:0, with the account prodUser.
// before, if not nil, runs after New and before Start (to tune the limiter).
func prodApp(t *testing.T, before func(*App)) *prodEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Dev = false
	cfg.Hostname = prodHost
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Domains = []string{prodDomain}
	certFile, keyFile := filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem")
	if _, err := EnsureSelfSigned(certFile, keyFile, []string{prodHost, "127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	lo := "127.0.0.1:0"
	cfg.Listeners = config.Listeners{SMTP: lo, Submission: lo, Submissions: lo, IMAP: lo, IMAPS: lo,
		POP3: lo, POP3S: lo, HTTP: lo}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.AddAccount(context.Background(), prodUser, prodPassword); err != nil {
		a.Close()
		t.Fatal(err)
	}
	if before != nil {
		before(a)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &prodEnv{app: a, certFile: certFile, roots: roots}
}

// addr returns the bound address of the named listener, or "" if the app
// does not serve it.
func (e *prodEnv) addr(name string) string {
	for _, l := range e.app.Listeners() {
		if l.Name == name {
			return l.Addr
		}
	}
	return ""
}

// clientTLS trusts the test certificate.
func (e *prodEnv) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: e.roots, ServerName: prodHost}
}

// needPOP3 skips the test when the POP3 server is not wired into the app yet.
func (e *prodEnv) needPOP3(t *testing.T, name string) string {
	t.Helper()
	a := e.addr(name)
	if a == "" {
		t.Fatalf("no %s listener", name)
	}
	return a
}

// sClient is one `openssl s_client` process driven line by line.
type sClient struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *bytes.Buffer
	cancel context.CancelFunc
}

// openSSL starts `openssl s_client` against addr, verifying the certificate
// and host name; extra adds e.g. "-starttls", "smtp".
func (e *prodEnv) openSSL(t *testing.T, addr string, extra ...string) *sClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	args := append([]string{"s_client", "-connect", addr, "-brief", "-ign_eof", "-nocommands",
		"-servername", prodHost, "-verify_hostname", prodHost, "-CAfile", e.certFile, "-verify_return_error"},
		extra...)
	cmd := exec.CommandContext(ctx, "openssl", args...)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &sClient{t: t, cmd: cmd, in: in, out: bufio.NewReader(outPipe), stderr: &bytes.Buffer{}, cancel: cancel}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("openssl: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	return s
}

// expect reads lines until one starts with prefix and returns it; earlier
// lines are skipped (multi-line replies, untagged data).
func (s *sClient) expect(prefix string) string {
	s.t.Helper()
	var seen []string
	for {
		l, err := s.out.ReadString('\n')
		if err != nil {
			s.t.Fatalf("openssl ended before %q: %v; stdout %q; stderr:\n%s", prefix, err, seen, s.stderr)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, prefix) {
			return l
		}
		seen = append(seen, l)
	}
}

func (s *sClient) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\r\n"); err != nil {
		s.t.Fatalf("write to openssl: %v; stderr:\n%s", err, s.stderr)
	}
}

// finish waits for openssl to end (the server closed the connection after
// QUIT or LOGOUT) and checks the handshake it reported.
func (s *sClient) finish() {
	s.t.Helper()
	s.in.Close()
	io.Copy(io.Discard, s.out)
	if err := s.cmd.Wait(); err != nil {
		s.t.Errorf("openssl: %v; stderr:\n%s", err, s.stderr)
	}
	checkHandshake(s.t, s.stderr.String())
}

var protoRE = regexp.MustCompile(`Protocol version: (TLSv1\.[0-9])`)

// checkHandshake checks s_client -brief's report: TLS 1.2 or 1.3 and a
// certificate that verified.
func checkHandshake(t *testing.T, report string) {
	t.Helper()
	m := protoRE.FindStringSubmatch(report)
	if m == nil || (m[1] != "TLSv1.2" && m[1] != "TLSv1.3") {
		t.Errorf("no TLS 1.2/1.3 handshake in:\n%s", report)
	}
	if !strings.Contains(report, "Verification: OK") {
		t.Errorf("certificate not verified:\n%s", report)
	}
}

// TestOpenSSLTLS: every listener negotiates TLS with `openssl s_client`,
// STARTTLS or implicit, with a certificate that verifies for the hostname,
// and then speaks its protocol.
func TestOpenSSLTLS(t *testing.T) {
	t.Parallel()
	e := prodApp(t, nil)
	smtpSession := func(s *sClient) {
		s.send("EHLO client.example")
		if l := s.expect("250 "); !strings.Contains(l, "250 ") {
			t.Errorf("EHLO: %q", l)
		}
		s.send("QUIT")
		s.expect("221")
	}
	t.Run("submission STARTTLS", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.addr("submission"), "-starttls", "smtp")
		s.send("EHLO client.example")
		// AUTH is offered now that the connection is encrypted.
		if l := s.expect("250-AUTH"); !strings.Contains(l, "PLAIN") || !strings.Contains(l, "SCRAM-SHA-256") {
			t.Errorf("AUTH under TLS: %q", l)
		}
		s.expect("250 ")
		s.send("QUIT")
		s.expect("221")
		s.finish()
	})
	t.Run("MX STARTTLS", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.addr("smtp"), "-starttls", "smtp")
		smtpSession(s)
		s.finish()
	})
	t.Run("submissions", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.addr("submissions"))
		if l := s.expect("220 "); !strings.Contains(l, prodHost) {
			t.Errorf("greeting %q", l)
		}
		smtpSession(s)
		s.finish()
	})
	t.Run("IMAP STARTTLS", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.addr("imap"), "-starttls", "imap")
		s.send("a CAPABILITY")
		if l := s.expect("* CAPABILITY"); !strings.Contains(l, "AUTH=PLAIN") || !strings.Contains(l, "AUTH=SCRAM-SHA-256") ||
			strings.Contains(l, "LOGINDISABLED") {
			t.Errorf("CAPABILITY under TLS: %q", l)
		}
		s.expect("a OK")
		s.send(`b LOGIN ` + prodUser + ` "` + prodPassword + `"`)
		s.expect("b OK")
		s.send("c LOGOUT")
		s.expect("c OK")
		s.finish()
	})
	t.Run("IMAPS", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.addr("imaps"))
		s.expect("* OK")
		s.send("a LOGOUT")
		s.expect("a OK")
		s.finish()
	})
	t.Run("POP3 STLS", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.needPOP3(t, "pop3"), "-starttls", "pop3")
		s.send("CAPA")
		s.expect("+OK")
		s.expect(".")
		s.send("QUIT")
		s.expect("+OK")
		s.finish()
	})
	t.Run("POP3S", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.needPOP3(t, "pop3s"))
		s.expect("+OK")
		s.send("QUIT")
		s.expect("+OK")
		s.finish()
	})
	t.Run("HTTPS", func(t *testing.T) {
		t.Parallel()
		s := e.openSSL(t, e.addr("webmail"))
		s.send("GET / HTTP/1.1\r\nHost: " + prodHost + "\r\nConnection: close\r\n")
		if l := s.expect("HTTP/1.1 "); !strings.HasPrefix(l, "HTTP/1.1 200") {
			t.Errorf("GET /: %q", l)
		}
		s.finish()
	})
}

// TestOpenSSLRefusesTLS11: a client that offers at most TLS 1.1 is refused by
// the server (protocol_version alert, RFC 8446 B.2 / RFC 8996), on implicit
// TLS and after STARTTLS. SECLEVEL=0 lets OpenSSL offer TLS 1.1 at all, so
// the refusal checked here is the server's, not the client's own policy.
func TestOpenSSLRefusesTLS11(t *testing.T) {
	t.Parallel()
	e := prodApp(t, nil)
	for _, c := range []struct {
		name  string
		extra []string
	}{
		{"imaps", nil},
		{"submissions", nil},
		{"webmail", nil},
		{"submission", []string{"-starttls", "smtp"}},
		{"imap", []string{"-starttls", "imap"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), ioWait)
			defer cancel()
			args := append([]string{"s_client", "-connect", e.addr(c.name), "-brief", "-tls1_1",
				"-cipher", "DEFAULT@SECLEVEL=0", "-servername", prodHost}, c.extra...)
			cmd := exec.CommandContext(ctx, "openssl", args...)
			cmd.Stdin = strings.NewReader("")
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("TLS 1.1 handshake succeeded:\n%s", out)
			}
			if !strings.Contains(string(out), "alert protocol version") {
				t.Errorf("refused, but not by the server's protocol_version alert:\n%s", out)
			}
		})
	}
}

// plainConn is a cleartext connection to a listener.
type plainConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialPlain(t *testing.T, addr string) *plainConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(ioWait))
	return &plainConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (p *plainConn) line() string {
	p.t.Helper()
	l, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// until reads lines up to one starting with prefix; it returns all of them.
func (p *plainConn) until(prefix string) []string {
	p.t.Helper()
	var out []string
	for {
		l := p.line()
		out = append(out, l)
		if strings.HasPrefix(l, prefix) {
			return out
		}
	}
}

func (p *plainConn) send(s string) {
	p.t.Helper()
	if _, err := io.WriteString(p.c, s+"\r\n"); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// TestNoAuthBeforeTLS: in production mode, even from loopback, no protocol
// takes credentials over a cleartext connection (RFC 8314 4.1, RFC 3207 4,
// RFC 9051 6.2.3, RFC 2595 4).
func TestNoAuthBeforeTLS(t *testing.T) {
	t.Parallel()
	e := prodApp(t, nil)
	plain := "AHByb2QAcGFzcw==" // base64("\x00prod\x00pass"); never checked
	t.Run("submission", func(t *testing.T) {
		t.Parallel()
		p := dialPlain(t, e.addr("submission"))
		p.until("220 ")
		p.send("EHLO client.example")
		ehlo := strings.Join(p.until("250 "), "\n")
		if strings.Contains(ehlo, "AUTH") || !strings.Contains(ehlo, "STARTTLS") {
			t.Errorf("EHLO before TLS: %q", ehlo)
		}
		for _, cmd := range []string{"AUTH PLAIN " + plain, "AUTH LOGIN", "AUTH SCRAM-SHA-256"} {
			p.send(cmd)
			if l := p.line(); !strings.HasPrefix(l, "538 5.7.11") && !strings.HasPrefix(l, "530 ") {
				t.Errorf("%s before TLS: %q", cmd, l)
			}
		}
		p.send("MAIL FROM:<" + prodUser + ">")
		if l := p.line(); !strings.HasPrefix(l, "530 ") {
			t.Errorf("MAIL without AUTH: %q", l)
		}
	})
	t.Run("imap", func(t *testing.T) {
		t.Parallel()
		p := dialPlain(t, e.addr("imap"))
		p.until("* OK")
		p.send("a CAPABILITY")
		caps := p.until("a OK")[0]
		if !strings.Contains(caps, " LOGINDISABLED") || !strings.Contains(caps, " STARTTLS") || strings.Contains(caps, "AUTH=") {
			t.Errorf("CAPABILITY before TLS: %q", caps)
		}
		p.send(`b LOGIN ` + prodUser + ` "` + prodPassword + `"`)
		if l := p.line(); !strings.HasPrefix(l, "b NO") && !strings.HasPrefix(l, "b BAD") {
			t.Errorf("LOGIN before TLS: %q", l)
		}
		p.send("c AUTHENTICATE PLAIN " + plain)
		if l := p.line(); !strings.HasPrefix(l, "c NO") && !strings.HasPrefix(l, "c BAD") {
			t.Errorf("AUTHENTICATE before TLS: %q", l)
		}
		p.send("d SELECT INBOX")
		if l := p.line(); !strings.HasPrefix(l, "d BAD") && !strings.HasPrefix(l, "d NO") {
			t.Errorf("SELECT without login: %q", l)
		}
	})
	t.Run("pop3", func(t *testing.T) {
		t.Parallel()
		p := dialPlain(t, e.needPOP3(t, "pop3"))
		p.until("+OK")
		p.send("USER " + prodUser)
		// RFC 2595 4: USER may already be refused; PASS must be.
		if l := p.line(); strings.HasPrefix(l, "+OK") {
			p.send("PASS " + prodPassword)
			if l := p.line(); !strings.HasPrefix(l, "-ERR") {
				t.Errorf("PASS before TLS: %q", l)
			}
		} else if !strings.HasPrefix(l, "-ERR") {
			t.Errorf("USER before TLS: %q", l)
		}
		p.send("AUTH PLAIN " + plain)
		if l := p.line(); !strings.HasPrefix(l, "-ERR") {
			t.Errorf("AUTH before TLS: %q", l)
		}
		p.send("STAT")
		if l := p.line(); !strings.HasPrefix(l, "-ERR") {
			t.Errorf("STAT without login: %q", l)
		}
	})
	// The same client, once under TLS, logs in: the refusals above were
	// about the missing encryption, not the credentials.
	t.Run("imap after STARTTLS", func(t *testing.T) {
		t.Parallel()
		p := dialPlain(t, e.addr("imap"))
		p.until("* OK")
		p.send("a STARTTLS")
		p.until("a OK")
		tc := tls.Client(p.c, e.clientTLS())
		p.c, p.r = tc, bufio.NewReader(tc)
		p.send(`b LOGIN ` + prodUser + ` "` + prodPassword + `"`)
		if l := p.until("b "); !strings.HasPrefix(l[len(l)-1], "b OK") {
			t.Errorf("LOGIN under TLS: %q", l)
		}
	})
}
