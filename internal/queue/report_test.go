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
	if len(in) != 2 {
		t.Fatalf("INBOX has %d messages, want the failure and the success DSN", len(in))
	}
	var failed, delivered string
	for _, m := range in {
		switch {
		case strings.Contains(string(m), "Action: failed"):
			failed = string(m)
		case strings.Contains(string(m), "Action: delivered"):
			delivered = string(m)
		}
	}
	for _, want := range []string{"multipart/report", "Final-Recipient: rfc822; full@example.org", "Action: failed", "Status: " + smtp.MailboxFull().Enhanced.String(), "message/rfc822", "\r\nhi\r\n"} {
		if !strings.Contains(failed, want) {
			t.Errorf("failure DSN lacks %q:\n%s", want, failed)
		}
	}
	if strings.Contains(failed, "ok@example.org") {
		t.Errorf("the delivered recipient is in the failure DSN")
	}
	// RFC 3461 5.2.2 / 4.3: a success DSN, with the header only.
	for _, want := range []string{"Subject: Successful Mail Delivery Report", "Final-Recipient: rfc822; ok@example.org", "Action: delivered", "Status: 2.0.0",
		"text/rfc822-headers", "Subject: hello team", "Arrival-Date: "} {
		if !strings.Contains(delivered, want) {
			t.Errorf("success DSN lacks %q:\n%s", want, delivered)
		}
	}
	if strings.Contains(delivered, "full@example.org") || strings.Contains(delivered, "\r\nhi\r\n") || strings.Contains(delivered, "Arrival-Date: Mon, 01 Jan 0001") {
		t.Errorf("success DSN has the failed recipient, the body or no arrival date:\n%s", delivered)
	}
}
