package app

import (
	"io"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

// TestNotifySuccessAndPostmaster, over the real MX:
//   - RCPT ... NOTIFY=SUCCESS to a local mailbox brings a "delivered" DSN
//     (RFC 3461 5.2.2) into the INBOX of the local sender;
//   - postmaster@ a local domain is accepted with no account or alias of that
//     name (RFC 5321 4.5.1) and lands in the oldest account.
func TestNotifySuccessAndPostmaster(t *testing.T) {
	a := testApp(t, "dsn.test", nil)
	ctx := t.Context()
	if _, err := a.Store.AddAccount(ctx, "alice@dsn.test", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.AddAccount(ctx, "bob@dsn.test", "pw"); err != nil {
		t.Fatal(err)
	}
	l := dialLines(t, listener(t, a, "smtp"))
	l.expect("220 ")
	l.send("EHLO client.example")
	l.expect("250 ")
	l.send("MAIL FROM:<alice@dsn.test> ENVID=env-42")
	l.expect("250 ")
	l.send("RCPT TO:<bob@dsn.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@dsn.test")
	l.expect("250 ")
	l.send("DATA")
	l.expect("354 ")
	l.send("From: alice@dsn.test\r\nTo: bob@dsn.test\r\nSubject: tell me\r\n\r\nbody line\r\n.")
	l.expect("250 ")

	if got := string(waitMessage(t, a, "bob@dsn.test")); !strings.Contains(got, "Subject: tell me") {
		t.Fatalf("bob got %q", got)
	}
	dsn := string(waitMessage(t, a, "alice@dsn.test"))
	for _, want := range []string{"multipart/report", "Action: delivered", "Status: 2.0.0", "Final-Recipient: rfc822; bob@dsn.test",
		"Original-Envelope-Id: env-42", "Original-Recipient: rfc822;bob@dsn.test", "Subject: tell me"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("success DSN lacks %q:\n%s", want, dsn)
		}
	}
	if strings.Contains(dsn, "body line") {
		t.Errorf("success DSN carries the body (RFC 3461 4.3: headers only)")
	}

	// Postmaster: no account or alias of that name; alice is the oldest account.
	l.send("MAIL FROM:<someone@remote.example>")
	l.expect("250 ")
	l.send("RCPT TO:<PostMaster@dsn.test>")
	l.expect("250 ")
	l.send("RCPT TO:<nobody@dsn.test>")
	l.expect("550 5.1.1")
	l.send("DATA")
	l.expect("354 ")
	l.send("Subject: abuse report\r\n\r\nhello postmaster\r\n.")
	l.expect("250 ")
	l.send("QUIT")
	l.expect("221 ")
	if !inboxHas(t, a, "alice@dsn.test", "hello postmaster") {
		t.Fatal("postmaster mail is not in the oldest account's INBOX")
	}
}

// inboxHas polls addr's INBOX for a message containing s.
func inboxHas(t *testing.T, a *App, addr, s string) bool {
	t.Helper()
	ctx := t.Context()
	acct, err := a.Store.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := a.Store.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		msgs, err := a.Store.List(ctx, acct.ID, inbox.ID, nil, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			rc, err := a.Store.Open(ctx, m.BlobID)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if strings.Contains(string(b), s) {
				return true
			}
		}
	}
	return false
}
