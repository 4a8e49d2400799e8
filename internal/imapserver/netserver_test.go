package imapserver_test

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/imapserver"
	"gannet/internal/store/storetest"
)

// dialFrom connects from a loopback source address (Linux routes all of
// 127/8 to loopback) without reading the greeting.
func dialFrom(t testing.TB, addr, src string) *wire {
	t.Helper()
	d := net.Dialer{Timeout: ioWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &wire{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// TestConnectionLimits (issue 13, finding 3): IMAP had no connection limit
// at all; now one address gets max_connections_per_ip, the process
// max_connections, and the next one "* BYE" and a close.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	const refusal = "* BYE [UNAVAILABLE] Too many connections; try again later"
	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *imapserver.Options) { o.Conns = connlimit.NewLimits(2, 0) })
		e.dial()
		e.dial()
		w := dialFrom(t, e.addr, "127.0.0.1")
		if l := w.line(); l != refusal {
			t.Fatalf("third connection: %q, want %q", l, refusal)
		}
		w.expectClosed()
		if l := dialFrom(t, e.addr, "127.0.0.2").line(); !strings.HasPrefix(l, "* OK") {
			t.Fatalf("other address: %q", l)
		}
	})
	t.Run("total", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *imapserver.Options) { o.Conns = connlimit.NewLimits(0, 2) })
		dialFrom(t, e.addr, "127.0.0.1").line()
		dialFrom(t, e.addr, "127.0.0.2").line()
		w := dialFrom(t, e.addr, "127.0.0.3")
		if l := w.line(); l != refusal {
			t.Fatalf("third connection: %q, want %q", l, refusal)
		}
		w.expectClosed()
	})
}

// TestStartTLSHandshakeDeadline (finding 3): garbage trickled after
// STARTTLS held the connection for the pre-auth timeout (a minute); now the
// handshake deadline cuts it.
func TestStartTLSHandshakeDeadline(t *testing.T) {
	t.Parallel()
	srvCfg, _ := selfSigned(t)
	e := newEnv(t, func(o *imapserver.Options) {
		o.TLS = srvCfg
		o.Dev = false
		o.HandshakeTimeout = 300 * time.Millisecond
	})
	w := e.dial()
	w.cmd("a STARTTLS")
	// A TLS record header announcing 16 KB, then an octet every 50 ms.
	w.sendRaw("\x16\x03\x01\x40\x00")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := w.nc.Write([]byte{0x42}); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	w.nc.SetReadDeadline(time.Now().Add(ioWait))
	io.Copy(io.Discard, w.r) // until the server closes
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("garbage after STARTTLS held the connection %v", d)
	}
}

// TestEndAccount: the account's sessions, selected or in IDLE, get "* BYE"
// and are closed at once; other accounts' sessions and connections that
// are not logged in go on.
func TestEndAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	storetest.NewAccount(t, e.st, "bob@example.org", "bob secret")
	selected := e.login()
	selected.cmd("a SELECT INBOX")
	idle := e.login()
	idle.cmd("a SELECT INBOX")
	idle.send("b IDLE")
	if l := idle.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	bob := e.dial()
	bob.cmd(`a LOGIN bob@example.org "bob secret"`)
	anon := e.dial()

	start := time.Now()
	if n := e.srv.EndAccount(e.acct.ID); n != 2 {
		t.Fatalf("EndAccount = %d, want 2", n)
	}
	for name, w := range map[string]*wire{"selected": selected, "idle": idle} {
		lines := w.expectClosed()
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "* BYE ") {
			t.Errorf("%s session: %q, want one BYE", name, lines)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("sessions ended after %v, want within a second", d)
	}
	bob.cmd("c NOOP")
	anon.cmd("c CAPABILITY")
	if n := e.srv.EndAccount(e.acct.ID); n != 0 {
		t.Errorf("second EndAccount = %d", n)
	}
}

// TestProxyProtocolIMAP: from a trusted proxy the client's address (v2
// header) is what the limits count; from anyone else a PROXY line is a bad
// command.
func TestProxyProtocolIMAP(t *testing.T) {
	t.Parallel()
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *imapserver.Options) {
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			o.Conns = connlimit.NewLimits(1, 0)
		})
		for i, want := range []string{"* OK", "* BYE [UNAVAILABLE]"} {
			w := dialFrom(t, e.addr, "127.0.0.1")
			w.sendRaw("PROXY TCP4 192.0.2.1 198.51.100.1 5000 143\r\n")
			if l := w.line(); !strings.HasPrefix(l, want) {
				t.Fatalf("connection %d of client 192.0.2.1: %q, want %q", i+1, l, want)
			}
		}
		w := dialFrom(t, e.addr, "127.0.0.1")
		w.sendRaw("PROXY TCP6 2001:db8::1 2001:db8::2 5000 143\r\n")
		if l := w.line(); !strings.HasPrefix(l, "* OK") {
			t.Fatalf("another client: %q", l)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(o *imapserver.Options) {
			o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		})
		w := e.dial()
		w.send("PROXY TCP4 192.0.2.1 198.51.100.1 5000 143")
		if _, done := w.until("PROXY"); !strings.HasPrefix(done, "PROXY BAD") {
			t.Fatalf("PROXY from an untrusted peer: %q", done)
		}
	})
}
