package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gannet/internal/delivery"
	"gannet/internal/smtp"
)

// TestSieveCommands: put (from a file and from stdin), list, get, activate,
// del through the CLI, then a message delivered through the real delivery
// path over the same data directory is filed by the script put there.
func TestSieveCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", dir, "example.org")
	mustRun(t, "pw\n", "user", "add", "--data", dir, "alice@example.org")

	// An invalid script is refused with the compiler's line:col.
	bad := filepath.Join(dir, "bad.sieve")
	if err := os.WriteFile(bad, []byte("keep;\nfileinto \"x\";\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errs := gannet(t, "", "sieve", "put", "--data", dir, "alice@example.org", "bad", bad)
	if code == 0 || !strings.Contains(errs, "bad:2:") {
		t.Fatalf("put of an invalid script: exit %d, stderr %q", code, errs)
	}

	src := "require [\"fileinto\", \"mailbox\"];\nif header :contains \"subject\" \"report\" { fileinto :create \"Reports\"; }\n"
	good := filepath.Join(dir, "good.sieve")
	if err := os.WriteFile(good, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "", "sieve", "put", "--data", dir, "alice@example.org", "main", good); !strings.Contains(out, "stored") {
		t.Fatalf("put = %q", out)
	}
	mustRun(t, "discard;\n", "sieve", "put", "--data", dir, "alice@example.org", "other", "-")
	mustRun(t, "", "sieve", "activate", "--data", dir, "alice@example.org", "main")
	out := mustRun(t, "", "sieve", "list", "--data", dir, "alice@example.org")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "main\t") || !strings.Contains(lines[0], "\tactive\t") ||
		!strings.HasPrefix(lines[1], "other\t9\tinactive\t") {
		t.Fatalf("list = %q", out)
	}
	if got := mustRun(t, "", "sieve", "get", "--data", dir, "alice@example.org", "main"); got != src {
		t.Fatalf("get = %q, want %q", got, src)
	}
	if code, _, errs := gannet(t, "", "sieve", "del", "--data", dir, "alice@example.org", "main"); code == 0 || !strings.Contains(errs, "active") {
		t.Fatalf("del of the active script: exit %d, %q", code, errs)
	}
	mustRun(t, "", "sieve", "del", "--data", dir, "alice@example.org", "other")
	if code, _, errs := gannet(t, "", "sieve", "get", "--data", dir, "alice@example.org", "other"); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("get of a deleted script: exit %d, %q", code, errs)
	}
	if code, _, errs := gannet(t, "", "sieve", "list", "--data", dir, "nobody@example.org"); code == 0 || !strings.Contains(errs, "not found") {
		t.Fatalf("list of an unknown account: exit %d, %q", code, errs)
	}

	// Delivery runs the script activated by the CLI.
	deliver := func(subject string) {
		t.Helper()
		st := openData(t, dir)
		defer st.Close()
		d := delivery.New(delivery.Options{Store: st, Hostname: "mx.example.org"})
		a, _ := smtp.ParseAddress("alice@example.org")
		rc, err := d.CheckRecipient(context.Background(), a, delivery.RcptPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		msg := "From: bob@remote.example\r\nSubject: " + subject + "\r\n\r\nhi\r\n"
		if out, err := d.Deliver(context.Background(), &delivery.Envelope{Recipients: []*delivery.Recipient{rc}}, []byte(msg)); err != nil || out.Reply() != nil {
			t.Fatalf("deliver: %v %v", err, out.Reply())
		}
	}
	count := func(mailbox string) int64 {
		t.Helper()
		st := openData(t, dir)
		defer st.Close()
		acct, err := st.Account(context.Background(), "alice@example.org")
		if err != nil {
			t.Fatal(err)
		}
		mb, err := st.Mailbox(context.Background(), acct.ID, mailbox)
		if err != nil {
			return -1
		}
		return mb.Messages
	}
	deliver("monthly report")
	if n := count("Reports"); n != 1 {
		t.Fatalf("Reports holds %d, want 1", n)
	}
	mustRun(t, "", "sieve", "activate", "--data", dir, "alice@example.org", "--none")
	deliver("another report")
	if n, in := count("Reports"), count("INBOX"); n != 1 || in != 1 {
		t.Fatalf("after activate --none: Reports %d, INBOX %d, want 1 and 1", n, in)
	}
	mustRun(t, "", "sieve", "del", "--data", dir, "alice@example.org", "main")
	if out := mustRun(t, "", "sieve", "list", "--data", dir, "alice@example.org"); out != "" {
		t.Fatalf("list after del = %q", out)
	}
}
