package imapserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"gannet/internal/authlimit"
	"gannet/internal/imapserver"
	"gannet/internal/store/testopen"
)

func TestGreetingCapabilities(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.dial()
	lines := w.cmd("a CAPABILITY")
	if len(lines) != 1 {
		t.Fatalf("CAPABILITY: %q", lines)
	}
	caps := strings.Fields(lines[0])
	want := []string{"IMAP4rev1", "IMAP4rev2", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
		"UIDPLUS", "MULTIAPPEND", "MOVE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS",
		"CONDSTORE", "QRESYNC", "ESEARCH", "SEARCHRES", "WITHIN", "STATUS=SIZE", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
		"APPENDLIMIT=52428800", "UTF8=ACCEPT", "BINARY", "AUTH=PLAIN", "AUTH=LOGIN"}
	for _, c := range want {
		if !contains(caps, c) {
			t.Errorf("capability %s missing from %q", c, lines[0])
		}
	}
	if contains(caps, "LOGINDISABLED") || contains(caps, "STARTTLS") {
		t.Errorf("dev loopback without TLS config: %q", lines[0])
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestLoginDisabledWithoutTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *imapserver.Options) { o.Dev = false })
	w := e.dial()
	lines := w.cmd("a CAPABILITY")
	if !strings.Contains(lines[0], " LOGINDISABLED") || strings.Contains(lines[0], "AUTH=PLAIN") {
		t.Errorf("CAPABILITY = %q, want LOGINDISABLED and no AUTH=", lines[0])
	}
	done, _ := w.status("b LOGIN " + testUser + ` "` + testPass + `"`)
	if !strings.HasPrefix(done, "b NO [PRIVACYREQUIRED]") {
		t.Errorf("LOGIN without TLS: %q", done)
	}
	done, _ = w.status("c AUTHENTICATE PLAIN " + plainIR(testUser, testPass))
	if !strings.HasPrefix(done, "c NO [PRIVACYREQUIRED]") {
		t.Errorf("AUTHENTICATE without TLS: %q", done)
	}
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, err := imapclient.DialInsecure(e.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, "wrong").Wait(); err == nil || !strings.Contains(err.Error(), "AUTHENTICATIONFAILED") {
		t.Errorf("wrong password: %v", err)
	}
	if err := c.Login(testUser, testPass).Wait(); err != nil {
		t.Fatalf("Login: %v", err)
	}
	// RFC 9051 6.2.3: the capabilities after login no longer offer AUTH=.
	if c.Caps().Has("AUTH=PLAIN") || !c.Caps().Has("IMAP4rev2") {
		t.Errorf("caps after login: %v", c.Caps())
	}
	if err := c.Logout().Wait(); err != nil {
		t.Errorf("Logout: %v", err)
	}
}

func TestLoginLiterals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.dial()
	// A synchronizing literal waits for "+"; LITERAL+ does not (RFC 7888).
	w.send("a LOGIN {17}")
	if l := w.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation = %q", l)
	}
	w.sendRaw(testUser + " {13+}\r\n" + testPass + "\r\n")
	if _, done := w.until("a"); !strings.HasPrefix(done, "a OK [CAPABILITY ") {
		t.Errorf("LOGIN with literals: %q", done)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("PLAIN SASL-IR", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		w.cmd("a AUTHENTICATE PLAIN " + plainIR(testUser, testPass))
		w.cmd("b SELECT INBOX")
	})
	t.Run("PLAIN challenge", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		w.send("a AUTHENTICATE PLAIN")
		if l := w.line(); l != "+ " {
			t.Fatalf("challenge = %q", l)
		}
		w.send(plainIR(testUser, testPass))
		if _, done := w.until("a"); !strings.HasPrefix(done, "a OK") {
			t.Errorf("AUTHENTICATE: %q", done)
		}
	})
	t.Run("LOGIN", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		w.send("a AUTHENTICATE LOGIN")
		if l := w.line(); l != "+ "+base64.StdEncoding.EncodeToString([]byte("Username:")) {
			t.Fatalf("challenge = %q", l)
		}
		w.send(base64.StdEncoding.EncodeToString([]byte(testUser)))
		if l := w.line(); l != "+ "+base64.StdEncoding.EncodeToString([]byte("Password:")) {
			t.Fatalf("challenge = %q", l)
		}
		w.send(base64.StdEncoding.EncodeToString([]byte(testPass)))
		if _, done := w.until("a"); !strings.HasPrefix(done, "a OK") {
			t.Errorf("AUTHENTICATE: %q", done)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		w.send("a AUTHENTICATE LOGIN")
		w.line()
		w.send("*")
		if _, done := w.until("a"); !strings.HasPrefix(done, "a BAD") {
			t.Errorf("cancelled AUTHENTICATE: %q", done)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		done, _ := w.status("a AUTHENTICATE PLAIN " + plainIR(testUser, "nope"))
		if !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
			t.Errorf("wrong password: %q", done)
		}
	})
	t.Run("other identity", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		ir := base64.StdEncoding.EncodeToString([]byte("bob@example.org\x00" + testUser + "\x00" + testPass))
		done, _ := w.status("a AUTHENTICATE PLAIN " + ir)
		if !strings.HasPrefix(done, "a NO [AUTHORIZATIONFAILED]") {
			t.Errorf("proxy identity: %q", done)
		}
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		done, _ := w.status("a AUTHENTICATE CRAM-MD5")
		if !strings.HasPrefix(done, "a NO") {
			t.Errorf("unknown mechanism: %q", done)
		}
	})
}

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	lim := authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond})
	e := newEnv(t, func(o *imapserver.Options) { o.Limiter = lim })
	w := e.dial()
	for i := 0; i < 3; i++ {
		done, _ := w.status("a LOGIN " + testUser + " wrong")
		if !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("failure %d: %q", i, done)
		}
	}
	// Blocked now: even the right password is refused without being checked.
	done, _ := w.status("b LOGIN " + testUser + ` "` + testPass + `"`)
	if !strings.HasPrefix(done, "b NO [UNAVAILABLE]") {
		t.Errorf("blocked login: %q", done)
	}
}

func TestBadCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("preauth closes after 3", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		for _, bad := range []string{"a FROB", "b SELECT INBOX"} {
			if done, _ := w.status(bad); !strings.HasPrefix(done, bad[:1]+" BAD") {
				t.Fatalf("%q: %q", bad, done)
			}
		}
		w.send("c LOGIN")
		lines := w.expectClosed()
		if !hasPrefix(lines, "c BAD") || !hasPrefix(lines, "* BYE") {
			t.Errorf("third bad command: %q", lines)
		}
	})
	t.Run("authenticated continues", func(t *testing.T) {
		t.Parallel()
		w := e.login()
		for _, bad := range []string{"a FROB", "b FETCH 1 FLAGS", "c SELECT", "d SELECT INBOX extra", "e LIST ("} {
			if done, _ := w.status(bad); !strings.HasPrefix(done, bad[:1]+" BAD") {
				t.Errorf("%q: %q", bad, done)
			}
		}
		w.send("%%% x") // no valid tag: answered untagged
		if l := w.line(); !strings.HasPrefix(l, "* BAD") {
			t.Errorf("invalid tag: %q", l)
		}
		w.cmd("f NOOP")
	})
	t.Run("long line", func(t *testing.T) {
		t.Parallel()
		w := e.login()
		done, _ := w.status("a LIST \"\" " + strings.Repeat("x", 70000))
		if !strings.HasPrefix(done, "a BAD") {
			t.Errorf("long line: %q", done)
		}
		w.cmd("b NOOP")
	})
	t.Run("literal too big", func(t *testing.T) {
		t.Parallel()
		w := e.login()
		w.send("a APPEND INBOX {99999999999}")
		if _, done := w.until("a"); !strings.HasPrefix(done, "a NO [TOOBIG]") {
			t.Errorf("huge literal: %q", done)
		}
		w.cmd("b NOOP")
	})
}

func TestIDEnableNamespace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.login()
	if lines := w.cmd(`a ID ("name" "test" "version" "1")`); !hasLine(lines, `* ID ("name" "Gannet")`) {
		t.Errorf("ID: %q", lines)
	}
	w.cmd("b ID NIL")
	if lines := w.cmd("c ENABLE CONDSTORE X-UNKNOWN UTF8=ACCEPT"); !hasLine(lines, "* ENABLED CONDSTORE UTF8=ACCEPT") {
		t.Errorf("ENABLE: %q", lines)
	}
	if lines := w.cmd("d ENABLE CONDSTORE QRESYNC"); !hasLine(lines, "* ENABLED QRESYNC") {
		t.Errorf("second ENABLE: %q", lines)
	}
	if lines := w.cmd("e NAMESPACE"); !hasLine(lines, `* NAMESPACE (("" "/")) NIL NIL`) {
		t.Errorf("NAMESPACE: %q", lines)
	}
	if done, _ := w.status("f ENABLE"); !strings.HasPrefix(done, "f BAD") {
		t.Errorf("empty ENABLE: %q", done)
	}
}

// selfSigned returns a server TLS config and a client config that trusts it.
func selfSigned(t testing.TB) (*tls.Config, *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mx.example.org"},
		DNSNames:     []string{"mx.example.org"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool, ServerName: "mx.example.org"}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	srvCfg, cliCfg := selfSigned(t)
	e := newEnv(t, func(o *imapserver.Options) { o.TLS = srvCfg; o.Dev = false })
	t.Run("raw", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		lines := w.cmd("a CAPABILITY")
		if !strings.Contains(lines[0], " STARTTLS") || !strings.Contains(lines[0], "LOGINDISABLED") {
			t.Fatalf("CAPABILITY before TLS: %q", lines[0])
		}
		w.cmd("b STARTTLS")
		w.startTLS(cliCfg)
		lines = w.cmd("c CAPABILITY")
		if strings.Contains(lines[0], "STARTTLS") || !strings.Contains(lines[0], "AUTH=PLAIN") {
			t.Fatalf("CAPABILITY after TLS: %q", lines[0])
		}
		w.cmd("d LOGIN " + testUser + ` "` + testPass + `"`)
		if done, _ := w.status("e STARTTLS"); !strings.HasPrefix(done, "e BAD") {
			t.Errorf("STARTTLS after login: %q", done)
		}
	})
	t.Run("imapclient", func(t *testing.T) {
		t.Parallel()
		c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: cliCfg})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(testUser, testPass).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("implicit TLS", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := imapserver.New(imapserver.Options{Store: e.st})
		go srv.Serve(tls.NewListener(ln, srvCfg))
		defer srv.Close()
		c, err := imapclient.DialTLS(ln.Addr().String(), &imapclient.Options{TLSConfig: cliCfg})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(testUser, testPass).Wait(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("injection", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		w.sendRaw("a STARTTLS\r\nb LOGIN x y\r\n")
		lines := w.expectClosed()
		if hasPrefix(lines, "a OK") {
			t.Errorf("STARTTLS with pipelined data was accepted: %q", lines)
		}
	})
}

func TestPreauthTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *imapserver.Options) { o.PreauthTimeout = 50 * time.Millisecond })
	w := e.dial()
	lines := w.expectClosed()
	if !hasPrefix(lines, "* BYE Autologout") {
		t.Errorf("idle preauth connection: %q", lines)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	waiting := e.login()
	idle := e.login()
	idle.cmd("a SELECT INBOX")
	idle.send("b IDLE")
	if l := idle.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioWait)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for name, w := range map[string]*wire{"waiting": waiting, "idle": idle} {
		if lines := w.expectClosed(); !hasPrefix(lines, "* BYE") {
			t.Errorf("%s session at shutdown: %q", name, lines)
		}
	}
	if _, err := net.Dial("tcp", e.addr); err == nil {
		t.Errorf("listener still open after Shutdown")
	}
}

// TestStopBeforeServe: Shutdown and Close running together on a server whose
// Serve never started (a process stopped right after it began) both return;
// the second caller used to wait forever for a change feed nobody started.
func TestStopBeforeServe(t *testing.T) {
	t.Parallel()
	st := testopen.Open(t, testopen.FastPasswords)
	defer st.Close()
	for range 20 {
		srv := imapserver.New(imapserver.Options{Store: st, Hostname: "mx.example.org",
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		done := make(chan struct{}, 3)
		for range 2 {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), ioWait)
				defer cancel()
				srv.Shutdown(ctx)
				done <- struct{}{}
			}()
		}
		go func() { srv.Close(); done <- struct{}{} }()
		for range 3 {
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Shutdown/Close of a server that never served did not return")
			}
		}
	}
}
