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
