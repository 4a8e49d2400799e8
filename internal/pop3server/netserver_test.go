package pop3server

import (
	"bufio"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/connlimit"
)

// dialFrom connects from a loopback source address without reading the
// greeting.
func (e *env) dialFrom(src string) *client {
	e.t.Helper()
	d := net.Dialer{Timeout: ioWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	e.t.Cleanup(func() { nc.Close() })
	return &client{t: e.t, nc: nc, r: bufio.NewReader(nc)}
}

// rest reads until the server closes the connection.
func (c *client) rest() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	b, err := io.ReadAll(c.r)
	if err != nil {
		c.t.Fatalf("waiting for close: %v (read %q)", err, b)
	}
	return string(b)
}

// TestConnectionLimits (issue 13, finding 3): POP3 had no connection limit;
// over it a client gets "-ERR [SYS/TEMP]" and a close.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	const refusal = "-ERR [SYS/TEMP] too many connections, try again later\r\n"
	e := newEnv(t, withOptions(func(o *Options) { o.Conns = connlimit.NewLimits(2, 3) }))
	e.dial()
	e.dial()
	if got := e.dialFrom("127.0.0.1").rest(); got != refusal {
		t.Fatalf("third connection from 127.0.0.1: %q, want %q", got, refusal)
	}
	e.dialFrom("127.0.0.2").line() // the third in all
	if got := e.dialFrom("127.0.0.3").rest(); got != refusal {
		t.Fatalf("fourth connection in all: %q, want %q", got, refusal)
	}
}

// TestSTLSHandshakeDeadline (finding 3): garbage trickled after STLS held
// the connection for the autologout timer (10 minutes); now the handshake
// deadline cuts it.
func TestSTLSHandshakeDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withTLS(), noDev(), withOptions(func(o *Options) { o.HandshakeTimeout = 300 * time.Millisecond }))
	c := e.dial()
	c.ok("STLS")
	c.send("\x16\x03\x01\x40\x00")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.nc.Write([]byte{0x42}); err != nil {
					return
				}
			}
		}
	}()
	start := time.Now()
	c.nc.SetReadDeadline(time.Now().Add(ioWait))
	io.Copy(io.Discard, c.r)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("garbage after STLS held the connection %v", d)
	}
}

// TestEndAccount: the account's session gets one -ERR line and is closed
// without the UPDATE state: messages marked with DELE stay. Sessions not
// logged in go on.
func TestEndAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u1 := e.deliver(msg("one", "1"))
	u2 := e.deliver(msg("two", "2"))
	c := e.login()
	c.ok("DELE 1")
	c.ok("DELE 2")
	anon := e.dial()
	start := time.Now()
	if n := e.srv.EndAccount(e.acct.ID); n != 1 {
		t.Fatalf("EndAccount = %d, want 1", n)
	}
	if got := c.rest(); !strings.HasPrefix(got, "-ERR ") || strings.Count(got, "\r\n") != 1 {
		t.Fatalf("ended session got %q, want one -ERR line", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("session ended after %v", d)
	}
	// Only anon is left once the ended session is gone.
	deadline := time.Now().Add(ioWait)
	for e.srv.activeConns() > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("server still has %d connections", e.srv.activeConns())
		}
		time.Sleep(time.Millisecond)
	}
	if got := e.inboxUIDs(); !slices.Equal(got, []uint32{u1, u2}) {
		t.Fatalf("INBOX after EndAccount = %v, want %v: DELE marks were committed", got, []uint32{u1, u2})
	}
	anon.ok("CAPA")
	anon.lines()
	// The maildrop lock went with the session: the user can log in again.
	again := e.login()
	if r := again.ok("STAT"); r != "+OK 2 "+strings.Fields(r)[2] {
		t.Errorf("STAT after a new login = %q", r)
	}
	if n := e.srv.EndAccount(e.acct.ID + 1000); n != 0 {
		t.Errorf("EndAccount(unknown) = %d", n)
	}
}
