package pop3server

import (
	"bufio"
	"crypto/tls"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSTLSThenUserPass(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withTLS(), noDev())
	e.deliver(msg("over tls", "secret body"))
	c := e.dial()
	c.fail("USER "+alice, "-ERR [AUTH] ")
	c.ok("STLS")
	c.startTLS()
	c.fail("STLS", "-ERR TLS already active")
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	c.ok("RETR 1")
	if b := c.body(); !strings.Contains(string(b), "secret body") {
		t.Errorf("RETR over TLS = %q", b)
	}
	c.ok("QUIT")
}

func TestSTLSForgetsUSER(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withTLS()) // dev: USER allowed before TLS on loopback
	c := e.dial()
	c.ok("USER " + alice)
	c.ok("STLS")
	c.startTLS()
	// RFC 2595 4: state from before TLS does not carry over.
	c.fail("PASS "+alicePw, "-ERR send USER first")
}

func TestSTLSInjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withTLS())
	c := e.dial()
	// A command smuggled after STLS in the same packet must not run after the
	// handshake (RFC 2595 4 discards what came before TLS).
	c.send("STLS\r\nCAPA\r\n")
	if r := c.line(); r != "+OK begin TLS negotiation" {
		t.Fatalf("STLS: %q", r)
	}
	c.startTLS()
	if r := c.cmd("NOOP"); r != "-ERR command not valid in this state" {
		t.Errorf("first answer over TLS = %q: the injected CAPA ran", r)
	}
	if !strings.Contains(e.logs.String(), "discarding plaintext sent after STLS") {
		t.Errorf("injection not logged")
	}
}

func TestImplicitTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noDev())
	e.stop()
	cfg := serverTLS(t)
	e.start(func(ln net.Listener) net.Listener { return tls.NewListener(ln, cfg) })
	e.deliver(msg("pop3s", "hi"))
	nc, err := tls.Dial("tcp", e.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("dial TLS: %v", err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, r: bufio.NewReader(nc)}
	if g := c.line(); !strings.HasPrefix(g, "+OK pop.example.org") {
		t.Fatalf("greeting %q", g)
	}
	c.ok("CAPA")
	caps := c.lines()
	if slices.Contains(caps, "STLS") || !slices.Contains(caps, "USER") {
		t.Errorf("CAPA over implicit TLS = %q, want USER and no STLS", caps)
	}
	c.fail("STLS", "-ERR TLS already active")
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	c.ok("STAT")
	c.ok("QUIT")
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := serverTLS(t)
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		panic("certificate callback exploded")
	}
	cfg.Certificates = nil
	e.stop()
	e.opts.TLS = cfg
	e.start(nil)

	c := e.dial()
	c.ok("STLS")
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(ioWait))
	if err := tc.Handshake(); err == nil {
		t.Fatalf("handshake succeeded against a panicking server")
	}
	e.waitIdle()
	logs := e.logs.String()
	if !strings.Contains(logs, "panic serving connection") || !strings.Contains(logs, "certificate callback exploded") || !strings.Contains(logs, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", logs)
	}
	// The server lives on.
	c = e.dial()
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	c.ok("QUIT")
}

func TestPanicDuringImplicitTLS(t *testing.T) {
	t.Parallel()
	// The same panic during an implicit-TLS handshake: no -ERR can be sent
	// (writing would restart the handshake), but the connection must be
	// closed at once, not left hanging, and the panic logged.
	e := newEnv(t)
	cfg := serverTLS(t)
	cfg.Certificates = nil
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { panic("boom (Panic test)") }
	e.stop()
	e.start(func(ln net.Listener) net.Listener { return tls.NewListener(ln, cfg) })
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	tc := tls.Client(nc, &tls.Config{InsecureSkipVerify: true})
	tc.SetDeadline(time.Now().Add(ioWait))
	if err := tc.Handshake(); err == nil {
		t.Fatalf("handshake succeeded")
	}
	e.waitIdle()
	if !strings.Contains(e.logs.String(), "boom (Panic test)") {
		t.Errorf("panic not logged")
	}
}
