package smtpclient_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/smtpclient"
)

// peer is the server side of a scripted session: each test spells out the
// exact dialogue, which go-smtp cannot be made to misbehave in.
type peer struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (p *peer) send(lines ...string) {
	if _, err := p.conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		p.t.Errorf("peer write: %v", err)
	}
}

// expect reads one line and checks its start; it returns the line.
func (p *peer) expect(prefix string) string {
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := p.r.ReadString('\n')
	if err != nil {
		p.t.Errorf("peer: reading %q: %v", prefix, err)
		return ""
	}
	if !strings.HasPrefix(strings.ToUpper(line), strings.ToUpper(prefix)) {
		p.t.Errorf("peer got %q, want %q...", line, prefix)
	}
	return line
}

// scripted serves one connection with fn and returns the address.
func scripted(t *testing.T, fn func(p *peer)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		fn(&peer{t: t, conn: c, r: bufio.NewReader(c)})
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln.Addr().String()
}

var short = smtpclient.Timeouts{Connect: 5 * time.Second, Greeting: 5 * time.Second, Command: 5 * time.Second,
	DataInit: 5 * time.Second, DataBlock: 5 * time.Second, DataTerm: 5 * time.Second}

func env1() smtpclient.Envelope {
	return smtpclient.Envelope{From: "a@example.com", To: []smtpclient.Recipient{{Addr: "b@example.org"}}}
}

func TestLockstepWithoutPipelining(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("220 old.test ESMTP")
		p.expect("EHLO c.test")
		p.send("250-old.test", "250 8BITMIME")
		for _, cmd := range []string{"MAIL FROM:<a@example.com>", "RCPT TO:<b@example.org>", "RCPT TO:<c@example.org>", "DATA"} {
			p.expect(cmd)
			if p.r.Buffered() > 0 {
				p.t.Errorf("client pipelined after %s to a server without PIPELINING", cmd)
			}
			switch cmd {
			case "RCPT TO:<c@example.org>":
				p.send("550 5.1.1 unknown")
			case "DATA":
				p.send("354 go on")
			default:
				p.send("250 ok")
			}
		}
		for p.expect("") != ".\r\n" {
		}
		p.send("250 2.0.0 queued as 1")
		p.expect("QUIT")
		p.send("221 bye")
	})
	c, err := smtpclient.Dial(context.Background(), nil, addr, "old.test", smtpclient.Options{Hostname: "c.test", Timeouts: short})
	if err != nil {
		t.Fatal(err)
	}
	e := env1()
	e.To = append(e.To, smtpclient.Recipient{Addr: "c@example.org"})
	res, err := c.Send(context.Background(), e, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome(0).Positive() || res.Outcome(1).Code != 550 || res.Outcome(0).Text != "queued as 1" {
		t.Errorf("outcomes %s / %s", res.Outcome(0), res.Outcome(1))
	}
	c.Quit(context.Background())
}

func TestPipelinedGroup(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("220 fast.test ESMTP")
		p.expect("EHLO")
		p.send("250-fast.test", "250 PIPELINING")
		// The whole group arrives before any reply is sent: a client waiting
		// for the MAIL reply would stall here until its timeout.
		for _, cmd := range []string{"MAIL FROM:", "RCPT TO:<b@", "RCPT TO:<c@", "DATA"} {
			p.expect(cmd)
		}
		p.send("250 ok", "250 ok", "450 4.2.0 mailbox busy", "354 go on")
		for p.expect("") != ".\r\n" {
		}
		p.send("250 ok")
		// Second transaction on the same connection starts with RSET, and
		// here every recipient is refused but the server still says 354
		// (RFC 2920 3.1): the client must send just ".".
		for _, cmd := range []string{"RSET", "MAIL FROM:", "RCPT TO:", "DATA"} {
			p.expect(cmd)
		}
		p.send("250 ok", "250 ok", "550 no", "354 go on")
		if line := p.expect("."); line != ".\r\n" {
			p.t.Errorf("after a 354 with no recipients, client sent %q, want a lone dot", line)
		}
		p.send("554 no valid recipients")
	})
	c, err := smtpclient.Dial(context.Background(), nil, addr, "fast.test", smtpclient.Options{Hostname: "c.test", Timeouts: short})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := env1()
	e.To = append(e.To, smtpclient.Recipient{Addr: "c@example.org"})
	res, err := c.Send(context.Background(), e, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outcome(0).Positive() || res.Outcome(1).Code != 450 {
		t.Errorf("outcomes %s / %s", res.Outcome(0), res.Outcome(1))
	}
	res, err = c.Send(context.Background(), env1(), []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome(0).Code != 550 {
		t.Errorf("second transaction outcome %s, want the RCPT's 550", res.Outcome(0))
	}
	if !c.Usable() {
		t.Error("client unusable after a clean refusal")
	}
}

func TestHeloFallback(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("220 ancient.test")
		p.expect("EHLO")
		p.send("502 5.5.2 what?")
		p.expect("HELO c.test")
		p.send("250 ancient.test")
		p.expect("MAIL FROM:<a@example.com>\r\n") // no ESMTP parameters
		p.send("250 ok")
		p.expect("RCPT")
		p.send("250 ok")
		p.expect("DATA")
		p.send("354 go")
		for p.expect("") != ".\r\n" {
		}
		p.send("250 ok")
	})
	c, err := smtpclient.Dial(context.Background(), nil, addr, "ancient.test", smtpclient.Options{Hostname: "c.test", Timeouts: short, TLS: &tls.Config{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(context.Background(), env1(), []byte("Subject: \xff\r\n\r\nx\r\n"))
	if err != nil || !res.Outcome(0).Positive() {
		t.Fatalf("send: %v %+v", err, res)
	}
}

func TestGreetingRefused(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("554 5.7.1 no service for you")
		p.expect("QUIT")
		p.send("221 bye")
	})
	_, err := smtpclient.Dial(context.Background(), nil, addr, "x.test", smtpclient.Options{Hostname: "c.test", Timeouts: short})
	var re *smtpclient.ReplyError
	if !errors.As(err, &re) || re.Command != "connect" || re.Reply.Code != 554 {
		t.Fatalf("err = %v, want a 554 ReplyError for connect", err)
	}
}

func TestStartTLSInjection(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("220 evil.test")
		p.expect("EHLO")
		p.send("250-evil.test", "250 STARTTLS")
		p.expect("STARTTLS")
		// A reply smuggled in before the handshake must not be believed.
		p.send("220 go ahead", "250 injected")
		p.r.ReadString('\n')
	})
	_, err := smtpclient.Dial(context.Background(), nil, addr, "evil.test", smtpclient.Options{Hostname: "c.test", Timeouts: short, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err == nil || !strings.Contains(err.Error(), "after STARTTLS") {
		t.Fatalf("err = %v, want a refusal of data after STARTTLS", err)
	}
}

func TestServerClosing421(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("220 busy.test")
		p.expect("EHLO")
		p.send("250-busy.test", "250 PIPELINING")
		p.expect("MAIL")
		p.expect("RCPT")
		p.expect("DATA")
		p.send("421 4.3.2 shutting down")
	})
	c, err := smtpclient.Dial(context.Background(), nil, addr, "busy.test", smtpclient.Options{Hostname: "c.test", Timeouts: short})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Send(context.Background(), env1(), []byte(msg))
	if err == nil && res.Outcome(0).Code != 421 {
		t.Fatalf("outcome %s, want 421 or an error", res.Outcome(0))
	}
	if c.Usable() {
		t.Error("client still usable after 421")
	}
	if res.DataSent {
		t.Error("DataSent true though DATA was refused")
	}
}

func TestGreetingTimeout(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.r.ReadString('\n') // say nothing; wait for the client to give up
	})
	to := short
	to.Greeting = 200 * time.Millisecond
	_, err := smtpclient.Dial(context.Background(), nil, addr, "mute.test", smtpclient.Options{Hostname: "c.test", Timeouts: to})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestCancelAbortsSend(t *testing.T) {
	t.Parallel()
	stalled := make(chan struct{})
	addr := scripted(t, func(p *peer) {
		p.send("220 slow.test")
		p.expect("EHLO")
		p.send("250-slow.test", "250 PIPELINING")
		p.expect("MAIL")
		p.expect("RCPT")
		p.expect("DATA")
		close(stalled)
		p.r.ReadString('\n') // never answer; returns when the client hangs up
	})
	c, err := smtpclient.Dial(context.Background(), nil, addr, "slow.test", smtpclient.Options{Hostname: "c.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stalled
		cancel()
	}()
	// With the default 5-minute timeouts, only the cancellation can end this.
	if _, err := c.Send(ctx, env1(), []byte(msg)); err == nil {
		t.Fatal("Send succeeded against a mute server")
	}
	if c.Usable() {
		t.Error("client usable after an aborted Send")
	}
}

// TestAuthLoginOnLoopback: a server offering only LOGIN gets LOGIN, and on a
// loopback address the credentials may go without TLS.
func TestAuthLoginOnLoopback(t *testing.T) {
	t.Parallel()
	addr := scripted(t, func(p *peer) {
		p.send("220 relay.test")
		p.expect("EHLO")
		p.send("250-relay.test", "250 AUTH LOGIN")
		p.expect("AUTH LOGIN")
		p.send("334 VXNlcm5hbWU6")
		if l := p.expect(""); l != "dXNlcg==\r\n" { // "user"
			p.t.Errorf("username line %q", l)
		}
		p.send("334 UGFzc3dvcmQ6")
		if l := p.expect(""); l != "cGFzcw==\r\n" { // "pass"
			p.t.Errorf("password line %q", l)
		}
		p.send("235 2.7.0 ok")
		p.expect("QUIT")
		p.send("221 bye")
	})
	c, err := smtpclient.Dial(context.Background(), nil, addr, "relay.test",
		smtpclient.Options{Hostname: "c.test", Timeouts: short, Auth: &smtpclient.Auth{Username: "user", Password: "pass"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Quit(context.Background())
}

// TestNoCredentialsInTheClear: to a non-loopback peer without TLS, AUTH is
// never sent. net.Pipe stands in for a remote connection.
func TestNoCredentialsInTheClear(t *testing.T) {
	t.Parallel()
	cli, srv := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := &peer{t: t, conn: srv, r: bufio.NewReader(srv)}
		p.send("220 remote.test")
		p.expect("EHLO")
		p.send("250-remote.test", "250 AUTH PLAIN LOGIN")
		srv.SetReadDeadline(time.Now().Add(10 * time.Second))
		if l, err := p.r.ReadString('\n'); err == nil && strings.HasPrefix(l, "AUTH") {
			t.Errorf("credentials sent in the clear: %q", l)
		}
		srv.Close()
	}()
	_, err := smtpclient.New(context.Background(), cli, "remote.test",
		smtpclient.Options{Hostname: "c.test", Timeouts: short, Auth: &smtpclient.Auth{Username: "u", Password: "p"}})
	if err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Errorf("err = %v, want a refusal to authenticate without TLS", err)
	}
	<-done
}
