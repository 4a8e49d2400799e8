package managesieve

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

func serverTLS(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sieve.example.org"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
}

type env struct {
	st    store.Store
	srv   *Server
	addr  string
	alice *store.Account
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := testopen.Open(t, testopen.FastPasswords)
	e := &env{st: st, alice: storetest.NewAccount(t, st, "alice@example.org", "alice pw")}
	e.srv = New(Options{Store: st, TLS: serverTLS(t)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Close() })
	return e
}

// client is a line-level ManageSieve client.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func (e *env) dial(t *testing.T) *client {
	t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(time.Minute))
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// response reads lines up to and including the final OK/NO/BYE line and
// returns them joined by "\n" (a literal's content included).
func (c *client) response() string {
	c.t.Helper()
	var lines []string
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (after %q)", err, lines)
		}
		line = strings.TrimSuffix(line, "\r\n")
		lines = append(lines, line)
		if n, ok := literalLen(line); ok {
			buf := make([]byte, n+2)
			if _, err := ioReadFull(c.r, buf); err != nil {
				c.t.Fatal(err)
			}
			lines = append(lines, string(buf[:n]))
			continue
		}
		if strings.HasPrefix(line, "OK") || strings.HasPrefix(line, "NO") || strings.HasPrefix(line, "BYE") {
			return strings.Join(lines, "\n")
		}
	}
}

func literalLen(line string) (int, bool) {
	if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
		return 0, false
	}
	var n int
	_, err := fmt.Sscanf(line, "{%d}", &n)
	return n, err == nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (c *client) expect(cmd, prefix string) string {
	c.t.Helper()
	if cmd != "" {
		c.send(cmd)
	}
	resp := c.response()
	last := resp[strings.LastIndex(resp, "\n")+1:]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("%q: got\n%s\nwant last line %q...", cmd, resp, prefix)
	}
	return resp
}

func (c *client) startTLS() {
	c.t.Helper()
	c.expect("STARTTLS\r\n", "OK")
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		c.t.Fatal(err)
	}
	c.nc, c.r = tc, bufio.NewReader(tc)
	if caps := c.expect("", "OK"); !strings.Contains(caps, `"SASL" "PLAIN"`) || strings.Contains(caps, "STARTTLS") {
		c.t.Fatalf("capabilities after TLS:\n%s", caps)
	}
}

func plain(user, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
}

func lit(s string) string { return fmt.Sprintf("{%d+}\r\n%s", len(s), s) }

func TestSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial(t)
	greet := c.expect("", "OK")
	for _, want := range []string{`"IMPLEMENTATION" "Gannet"`, `"SASL" ""`, `"STARTTLS"`, `"VERSION" "1.0"`, "fileinto", "vacation"} {
		if !strings.Contains(greet, want) {
			t.Fatalf("greeting lacks %s:\n%s", want, greet)
		}
	}
	c.expect(`AUTHENTICATE "PLAIN" "`+plain("alice@example.org", "alice pw")+"\"\r\n", "NO (ENCRYPT-NEEDED)")
	c.expect("LISTSCRIPTS\r\n", "NO")
	c.startTLS()
	c.expect(`AUTHENTICATE "PLAIN" "`+plain("alice@example.org", "wrong")+"\"\r\n", "NO")
	c.expect(`AUTHENTICATE "PLAIN" "`+plain("alice@example.org", "alice pw")+"\"\r\n", "OK")

	bad := "require \"fileinto\";\r\nif true {\r\n  fileinto\r\n}\r\n"
	if r := c.expect(`PUTSCRIPT "bad" `+lit(bad)+"\r\n", "NO"); !strings.Contains(r, "bad:") {
		t.Fatalf("invalid script answer lacks line:col: %s", r)
	}
	c.expect("CHECKSCRIPT "+lit(bad)+"\r\n", "NO")
	good := "require [\"fileinto\"];\r\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n"
	c.expect("CHECKSCRIPT "+lit(good)+"\r\n", "OK")
	c.expect(`PUTSCRIPT "main" `+lit(good)+"\r\n", "OK")
	c.expect(`PUTSCRIPT "other" {5}`+"\r\nkeep;\r\n", "OK") // synchronizing form, leniently
	c.expect(`SETACTIVE "main"`+"\r\n", "OK")
	if r := c.expect("LISTSCRIPTS\r\n", "OK"); !strings.Contains(r, "\"main\" ACTIVE\n\"other\"\n") {
		t.Fatalf("LISTSCRIPTS:\n%s", r)
	}
	if r := c.expect(`GETSCRIPT "main"`+"\r\n", "OK"); !strings.Contains(r, good) {
		t.Fatalf("GETSCRIPT:\n%q", r)
	}
	c.expect(`GETSCRIPT "nope"`+"\r\n", "NO (NONEXISTENT)")
	c.expect(`DELETESCRIPT "main"`+"\r\n", "NO (ACTIVE)")
	c.expect(`RENAMESCRIPT "main" "other"`+"\r\n", "NO (ALREADYEXISTS)")
	c.expect(`RENAMESCRIPT "main" "rules"`+"\r\n", "OK")
	c.expect(`HAVESPACE "x" 100`+"\r\n", "OK")
	c.expect(`HAVESPACE "x" 99999999`+"\r\n", "NO (QUOTA/MAXSIZE)")
	c.expect(`NOOP "t1"`+"\r\n", `OK (TAG "t1")`)

	sc, err := e.st.ActiveSieveScript(context.Background(), e.alice.ID)
	if err != nil || sc.Name != "rules" || string(sc.Content) != good {
		t.Fatalf("store's active script: %+v %v", sc, err)
	}
	c.expect(`SETACTIVE ""`+"\r\n", "OK")
	c.expect(`DELETESCRIPT "rules"`+"\r\n", "OK")
	c.expect("LOGOUT\r\n", "OK")
}

// TestAuthenticateChallenge: AUTHENTICATE without an initial response gets
// an empty challenge and reads the response as a string; "*" aborts.
func TestAuthenticateChallenge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial(t)
	c.expect("", "OK")
	c.startTLS()
	c.send("AUTHENTICATE \"PLAIN\"\r\n")
	if line, _ := c.r.ReadString('\n'); line != "\"\"\r\n" {
		t.Fatalf("challenge %q", line)
	}
	c.expect("\"*\"\r\n", "NO")
	c.send("AUTHENTICATE \"PLAIN\"\r\n")
	c.r.ReadString('\n')
	c.expect(lit(plain("alice@example.org", "alice pw"))+"\r\n", "OK")
	c.expect("LISTSCRIPTS\r\n", "OK")
}

// TestBadInput: garbage is answered NO, a literal over the bound is
// refused without being kept, and too many bad commands end with BYE.
func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial(t)
	c.expect("", "OK")
	c.expect("\"unterminated\r\n", "NO")
	c.expect("FOO {x}\r\n", "NO")
	c.expect("CHECKSCRIPT {2000000+}\r\n"+strings.Repeat("a", 2000000)+"\r\n", "NO")
	c.expect(strings.Repeat("A", 20000)+"\r\n", "NO")
	for i := 0; i < 10; i++ {
		c.send("BOGUS\r\n")
	}
	resp := ""
	for !strings.HasPrefix(resp, "BYE") {
		resp = c.response()
		resp = resp[strings.LastIndex(resp, "\n")+1:]
	}
}

// TestEndAccount: a logged-in session ends with BYE when its account changes.
func TestEndAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial(t)
	c.expect("", "OK")
	c.startTLS()
	c.expect(`AUTHENTICATE "PLAIN" "`+plain("alice@example.org", "alice pw")+"\"\r\n", "OK")
	if n := e.srv.EndAccount(e.alice.ID); n != 1 {
		t.Fatalf("EndAccount ended %d sessions, want 1", n)
	}
	c.expect("", "BYE")
}
