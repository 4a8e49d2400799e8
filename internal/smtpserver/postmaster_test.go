package smtpserver

import (
	"fmt"
	"strings"
	"testing"
)

// TestBarePostmaster: RCPT TO:<Postmaster> with no domain is accepted (RFC
// 5321 4.1.1.3, 4.5.1) and reaches the postmaster (here the oldest account,
// alice), while the same text inside a message, sent with DATA or in a BDAT
// chunk, is stored exactly as sent.
func TestBarePostmaster(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	line := "RCPT TO:<postmaster>\r\n"
	body := "Subject: data\r\n\r\n" + line + "rcpt to:<Postmaster> NOTIFY=NEVER\r\n"
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("RCPT TO:<Postmaster>", 250, "")
	w.cmd("RCPT TO: <postmaster> NOTIFY=FAILURE", 250, "")
	w.cmd("DATA", 354, "")
	w.write(body + ".\r\n")
	w.expect(250, "2.0.0")

	// BDAT: the first chunk is exactly the command text, so it starts where
	// a command would.
	chunk2 := "\r\nSubject: bdat\r\n\r\nx\r\n"
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("rcpt to:<POSTMASTER>", 250, "")
	w.write(fmt.Sprintf("BDAT %d\r\n%s", len(line), line))
	w.expect(250, "")
	w.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk2), chunk2))
	w.expect(250, "2.0.0")

	// Other paths without a domain are still refused.
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("RCPT TO:<postmasterx>", 501, "")
	w.cmd("RCPT TO:<abuse>", 501, "")

	msgs := e.inbox(e.alice)
	if len(msgs) != 2 {
		t.Fatalf("alice has %d messages, want 2", len(msgs))
	}
	raw := e.raw(msgs[0])
	if !strings.HasSuffix(raw, "\r\n\r\n"+line+"rcpt to:<Postmaster> NOTIFY=NEVER\r\n") {
		t.Errorf("DATA message altered: %q", raw)
	}
	if raw := e.raw(msgs[1]); !strings.HasSuffix(raw, "\r\n"+line+chunk2) {
		t.Errorf("BDAT message altered: %q", raw)
	}
}
