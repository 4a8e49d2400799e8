package queue_test

import (
	"strings"
	"testing"

	"gannet/internal/delivery"
	"gannet/internal/smtp"
)

// TestReportFailedAfterData: a recipient that failed after the SMTP server had
// accepted the message gets a failure DSN in the sender's INBOX; a delivered one
// does not.
func TestReportFailedAfterData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.newQueue(testConfig())
	raw := []byte("From: alice@example.org\r\nTo: team@example.org\r\nSubject: hello team\r\nMessage-ID: <r1@example.org>\r\n\r\nhi\r\n")
	err := q.Report(t.Context(), delivery.Report{
		ID: "abc", From: "alice@example.org", AccountID: e.alice.ID, Raw: raw,
		Recipients: []delivery.RecipientStatus{
			{Address: "full@example.org", Action: "failed", Reply: smtp.MailboxFull()},
			{Address: "ok@example.org", Action: "delivered", Reply: smtp.NewReply(250, smtp.EnhancedCode{2, 0, 0}, "OK")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	in := e.inbox(e.alice)
	if len(in) != 1 {
		t.Fatalf("INBOX has %d messages, want the DSN", len(in))
	}
	dsn := string(in[0])
	for _, want := range []string{"multipart/report", "Final-Recipient: rfc822; full@example.org", "Action: failed", "Status: " + smtp.MailboxFull().Enhanced.String()} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q", want)
		}
	}
	if strings.Contains(dsn, "ok@example.org") {
		t.Errorf("the delivered recipient is in the failure DSN")
	}
}
