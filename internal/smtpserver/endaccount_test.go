package smtpserver

import (
	"testing"
	"time"
)

// TestEndAccount: ending an account's sessions answers 421 4.7.0 and closes
// them within a second, idle or in the middle of a message; other accounts'
// sessions go on.
func TestEndAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	idle := e.login()
	busy := e.login()
	busy.cmd("MAIL FROM:<alice@example.org>", 250, "")
	busy.cmd("RCPT TO:<bob@example.org>", 250, "")
	busy.cmd("DATA", 354, "")
	busy.write("From: alice@example.org\r\nSubject: half\r\n\r\n")
	other := e.login2()
	other.cmd("AUTH PLAIN "+plain("bob@example.org", bobPW), 235, "2.0.0")
	if n := e.srv.EndAccount(e.alice.ID); n != 2 {
		t.Fatalf("EndAccount = %d, want 2", n)
	}
	for _, w := range []*wire{idle, busy} {
		w.c.SetDeadline(time.Now().Add(time.Second))
		w.expect(421, "4.7.0")
		w.closed()
	}
	other.cmd("NOOP", 250, "")
	if n := e.srv.EndAccount(e.alice.ID); n != 0 {
		t.Errorf("second EndAccount = %d, want 0", n)
	}
	if n := len(e.inbox(e.bob)); n != 0 {
		t.Errorf("bob got %d messages", n)
	}
}

// TestEndAccountDuringDelivery: an account ended while its message is being
// stored still gets the 250 for it (the message was taken: a client that
// never saw the 250 would send it again), then 421 4.7.0, even when the
// store takes longer than netserver's one-second grace.
func TestEndAccountDuringDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	hold := make(chan struct{})
	waiting := e.q.setHold(hold)
	w := e.login()
	w.cmd("MAIL FROM:<alice@example.org>", 250, "")
	w.cmd("RCPT TO:<someone@remote.example>", 250, "")
	w.cmd("DATA", 354, "")
	w.write("From: alice@example.org\r\nSubject: slow\r\n\r\nbody\r\n.\r\n")
	// Wait until the delivery is under way (the queue write blocks).
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("the delivery never started")
	}
	if n := e.srv.EndAccount(e.alice.ID); n != 1 {
		t.Fatalf("EndAccount = %d, want 1", n)
	}
	time.Sleep(1500 * time.Millisecond) // past netserver's grace
	close(hold)
	w.c.SetDeadline(time.Now().Add(5 * time.Second))
	w.expect(250, "2.0.0")
	w.expect(421, "4.7.0")
	w.closed()
	if n := len(e.q.all()); n != 1 {
		t.Errorf("%d messages queued, want 1", n)
	}
}
