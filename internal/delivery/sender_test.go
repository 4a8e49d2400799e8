package delivery

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gannet/internal/smtp"
)

func TestCheckSender(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if err := f.st.AddAlias(ctx, "info@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.AddAlias(ctx, "@example.org", []string{"alice@example.org"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"alice@example.org", "Alice@EXAMPLE.ORG", "alice+x@example.org", "info@example.org", "info+y@example.org"} {
		if err := f.d.CheckSender(ctx, f.alice, addr(t, s)); err != nil {
			t.Errorf("CheckSender(alice, %s): %v", s, err)
		}
	}
	// A catch-all does not make every address of the domain alice's.
	for _, s := range []string{"bob@example.org", "random@example.org", "alice@remote.example", "+alice@example.org"} {
		a, err := smtp.ParseAddress(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.d.CheckSender(ctx, f.alice, a); !errors.Is(err, smtp.SenderNotOwned()) {
			t.Errorf("CheckSender(alice, %s) = %v, want 550 5.7.1", s, err)
		}
	}
	if err := f.d.CheckSender(ctx, f.alice, smtp.Address{}); !errors.Is(err, smtp.SenderNotOwned()) {
		t.Errorf("null sender: %v", err)
	}
}

func TestPrepareSubmission(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	good := "From: Alice <alice@example.org>\r\nDate: Tue, 2 Jan 2024 03:04:05 +0000\r\nMessage-ID: <a@b>\r\nSubject: x\r\n\r\nFrom: bob@example.org in the body\r\n"
	out, err := f.d.PrepareSubmission(ctx, f.alice, []byte(good))
	if err != nil || string(out) != good {
		t.Errorf("complete message changed: %q, %v", out, err)
	}
	out, err = f.d.PrepareSubmission(ctx, f.alice, []byte("From: alice@example.org\r\nSubject: x\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if !strings.HasPrefix(s, "Date: Mon, 06 May 2024 07:08:09 +0000\r\nMessage-ID: <") || !strings.Contains(s, "@mx.example.org>\r\nFrom: alice@example.org\r\n") {
		t.Errorf("added fields: %q", s)
	}
	for _, msg := range []string{
		"From: bob@example.org\r\n\r\nx\r\n",
		"From: alice@example.org, bob@example.org\r\n\r\nx\r\n",
		"From: Team: alice@example.org, bob@example.org;\r\n\r\nx\r\n",
		"From: <>\r\n\r\nx\r\n",
		"From: alice@example.org\r\nFROM: alice@example.org\r\n\r\nx\r\n",
		"Subject: none\r\n\r\nFrom: alice@example.org\r\n",
		"From: undisclosed-recipients:;\r\n\r\nx\r\n",
	} {
		if _, err := f.d.PrepareSubmission(ctx, f.alice, []byte(msg)); err == nil {
			t.Errorf("accepted %q", msg)
		} else if r := (*smtp.Reply)(nil); !errors.As(err, &r) || r.Code != 550 {
			t.Errorf("%q: %v, want a 550 reply", msg, err)
		}
	}
}
