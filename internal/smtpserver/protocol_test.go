package smtpserver

import (
	"crypto/tls"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// Protocol corrections over go-smtp's server (issue 13).

// TestNestedMAIL: RFC 5321 4.1.4, MAIL inside a transaction is out of
// sequence (go-smtp's server silently started a new transaction).
func TestNestedMAIL(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("MAIL FROM:<other@remote.example>", 503, "5.5.1")
	w.cmd("RSET", 250, "")
	w.cmd("MAIL FROM:<other@remote.example>", 250, "")
}

// TestValuelessParameter: RFC 6531 3.4, SMTPUTF8 takes no value; a value is
// an unrecognised parameter, 555 (RFC 5321 4.1.1.11). go-smtp's server
// ignored it.
func TestValuelessParameter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example> SMTPUTF8=yes", 555, "5.5.4")
	w.cmd("MAIL FROM:<s@remote.example> X-UNKNOWN=1", 555, "5.5.4")
	w.cmd("MAIL FROM:<s@remote.example> SMTPUTF8", 250, "")
}

// TestSTARTTLSArgument: RFC 3207 4, STARTTLS has no parameters (go-smtp's
// server ignored them and started TLS).
func TestSTARTTLSArgument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.cmd("STARTTLS now", 501, "5.5.4")
	w.startTLS(e.clientTLS)
}

// TestPostmasterAfterSTARTTLS: RFC 5321 4.1.1.3, <Postmaster> without a
// domain is accepted under TLS too (the old byte filter could not see it).
func TestPostmasterAfterSTARTTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.startTLS(e.clientTLS)
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<Postmaster>", 250, "2.0.0")
	w.cmd("DATA", 354, "")
	w.write(testMsg("s@remote.example", "to the postmaster over tls") + ".\r\n")
	w.expect(250, "2.0.0")
	if got := subjects(e.inbox(e.alice)); len(got) != 1 {
		t.Fatalf("alice (postmaster) has %q", got)
	}
}

// TestPostmasterImplicitTLS: <Postmaster> without a domain on 465.
func TestPostmasterImplicitTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	raw := listenTLS(t, e)
	c, err := tls.Dial("tcp", raw, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(deadline())
	w := &wire{t: t, c: c, r: newReader(c)}
	w.expect(220, "")
	w.ehlo()
	w.cmd("AUTH PLAIN "+plain("bob@example.org", bobPW), 235, "2.0.0")
	w.cmd("MAIL FROM:<bob@example.org>", 250, "")
	w.cmd("RCPT TO:<postmaster>", 250, "2.0.0")
	w.cmd("DATA", 354, "")
	w.write("From: bob@example.org\r\nSubject: pm465\r\n\r\nx\r\n.\r\n")
	w.expect(250, "2.0.0")
	if got := subjects(e.inbox(e.alice)); len(got) != 1 || got[0] != "pm465" {
		t.Fatalf("alice (postmaster) has %q", got)
	}
}

// TestLineLength: a command line longer than MaxLineLength ends the session
// with 500; a message line that long refuses the message (554 5.6.0) once it
// has been read to its end, and the session goes on.
func TestLineLength(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.MaxLineLength = 1000 })
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.cmd("DATA", 354, "")
	w.write("Subject: long\r\n\r\n" + strings.Repeat("y", 1001) + "\r\n.\r\n")
	w.expect(554, "5.6.0")
	w.send("s@remote.example", []string{"alice@example.org"}, "Subject: ok\r\n\r\n"+strings.Repeat("y", 998)+"\r\n", 250, "2.0.0")
	w.cmd("NOOP "+strings.Repeat("z", 2000), 500, "")
	w.closed()
	if got := subjects(e.inbox(e.alice)); len(got) != 1 || got[0] != "ok" {
		t.Errorf("alice has %q", got)
	}
}

// countingConn counts the writes the server makes.
type countingConn struct {
	net.Conn
	writes *atomic.Int32
}

// countingListener hands out countingConns.
type countingListener struct {
	net.Listener
	writes *atomic.Int32
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

func (c countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestPipelinedRepliesOneWrite: RFC 2920 3.1, replies are buffered while the
// client has more commands pipelined, and sent together: EHLO, MAIL, two RCPTs
// and DATA sent in one write get their five replies in one write (go-smtp's
// server flushed each reply, and each line of EHLO's).
func TestPipelinedRepliesOneWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var writes atomic.Int32
	e.serve(countingListener{Listener: ln, writes: &writes})
	w := dialWire(t, ln.Addr().String(), true)
	w.write("EHLO client.example.net\r\nMAIL FROM:<s@remote.example>\r\n" +
		"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
	for _, code := range []int{250, 250, 250, 250, 354} {
		w.expect(code, "")
	}
	if n := writes.Load(); n != 2 {
		t.Errorf("%d writes for the greeting and five pipelined replies, want 2", n)
	}
	w.write("Subject: piped\r\n\r\nx\r\n.\r\nQUIT\r\n")
	w.expect(250, "2.0.0")
	w.expect(221, "")
}
