package smtpserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/connlimit"
)

// The slow-loris tests use a short Timeout; they assert that the server ends
// the connection, not how fast.

func TestSlowLorisCommand(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	// A command line that never ends.
	w := e.dial()
	w.write("EHLO slow.example")
	w.timedOut()
	// Silence after the greeting.
	w2 := e.dial()
	w2.expect(421, "4.4.2")
	w2.closed()
	// Dribbling a command a byte at a time does not reset the per-command
	// deadline: the whole line must arrive within Timeout.
	w3 := e.dial()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range []byte("EHLO dribble.example.net.long.name.that.never.ends") {
			if _, err := w3.c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	w3.timedOut()
	<-done
	// A truncated MAIL never starts a transaction.
	w4 := e.dial()
	w4.ehlo()
	w4.write("MAIL FROM:<s@remote.example>")
	w4.expect(421, "4.4.2")
	w4.closed()
}

func TestSlowLorisData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) {
		o.Timeout = 300 * time.Millisecond
		o.DataTimeout = 1500 * time.Millisecond
	})
	// Stalling in the middle of the message.
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.cmd("DATA", 354, "")
	w.write("Subject: stalled\r\n\r\nhalf a mess")
	w.expect(421, "4.4.2")
	w.closed()

	// Sending steadily, each 4 KiB well within Timeout, but too slowly for
	// the whole message to arrive within DataTimeout. (Were DataTimeout not
	// enforced, this sender would never be cut off and the test would hit
	// its safety deadline.)
	w2 := e.dial()
	w2.ehlo()
	w2.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w2.cmd("RCPT TO:<alice@example.org>", 250, "")
	w2.cmd("DATA", 354, "")
	stop := make(chan struct{})
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		w2.c.Write([]byte("Subject: dribble\r\n\r\n"))
		line := []byte(strings.Repeat("x", 1022) + "\r\n")
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := w2.c.Write(line); err != nil {
				return
			}
		}
	}()
	w2.expect(421, "4.4.2")
	w2.closed()
	close(stop)
	<-done
	t.Logf("steady sender cut off after %v", time.Since(start))
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Errorf("%d messages stored", n)
	}
}

func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	lim := connlimit.New(2)
	e := newEnv(t, MX, func(o *Options) { o.Conns = lim })
	w1 := e.dial()
	e.dial()
	w3 := dialWire(t, e.addr, false)
	w3.expect(421, "4.7.0")
	w3.closed()
	// Closing a connection gives its slot back.
	w1.cmd("QUIT", 221, "")
	w1.closed()
	// The server closes its side after writing 221; wait until it has
	// counted the slot free (the condition, not a duration, ends the wait).
	for lim.Open(e.dialIP()) >= 2 {
		time.Sleep(5 * time.Millisecond)
	}
	w4 := e.dial()
	w4.ehlo()
}

// TestShutdown: an idle client is told 421 and closed; a client in the middle
// of DATA finishes its message, gets its 250 (the message is stored), then 421.
func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	idle := e.dial()
	idle.ehlo()
	busy := e.dial()
	busy.ehlo()
	busy.cmd("MAIL FROM:<s@remote.example>", 250, "")
	busy.cmd("RCPT TO:<alice@example.org>", 250, "")
	busy.cmd("DATA", 354, "")
	busy.write("Subject: in flight\r\n\r\nfirst half\r\n")

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- e.srv.Shutdown(ctx)
	}()
	idle.expect(421, "")
	idle.closed()
	// Once the idle client was turned away, shutdown is under way; the busy
	// one still completes its message.
	busy.write("second half\r\n.\r\n")
	busy.expect(250, "2.0.0")
	busy.expect(421, "")
	busy.closed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if got := subjects(e.inbox(e.alice)); len(got) != 1 || got[0] != "in flight" {
		t.Fatalf("alice has %q", got)
	}
	// No new connections.
	if c, err := dialRaw(e.addr); err == nil {
		c.Close()
		t.Errorf("connected after Shutdown")
	}
}

// TestShutdownForced: a client that never finishes is closed when the
// shutdown context ends.
func TestShutdownForced(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.cmd("DATA", 354, "")
	w.write("Subject: never ends\r\n\r\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := e.srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's deadline", err)
	}
	w.closed()
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

func TestPanicRecovered(t *testing.T) {
	t.Parallel()
	// A nil Deliverer makes the first MAIL panic inside a session callback:
	// the loop recovers at the top of the command, answers 421, and closes;
	// the server keeps serving others.
	e := newEnv(t, Submission, func(o *Options) { o.Dev = true; o.Deliverer = nil })
	w := e.dial()
	w.ehlo()
	w.cmd("AUTH PLAIN "+plain("alice@example.org", alicePW), 235, "")
	w.write("MAIL FROM:<alice@example.org>\r\n")
	if text := w.expect(421, "4.0.0"); strings.Contains(text, "nil") {
		t.Errorf("421 reveals the panic: %q", text)
	}
	w.closed()
	w2 := e.dial()
	w2.cmd("NOOP", 250, "")
}

func TestServeAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	if err := e.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Serve(ln); !errors.Is(err, ErrServerClosed) || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close = %v, want ErrServerClosed", err)
	}
	if _, err := dialRaw(ln.Addr().String()); err == nil {
		t.Errorf("the listener given to Serve after Close is still open")
	}
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after Close: %v", err)
	}
}
