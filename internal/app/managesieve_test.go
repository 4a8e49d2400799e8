package app

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"gannet/internal/config"
)

// TestManageSieveToDelivery: a script uploaded and activated over the
// ManageSieve listener of a running server files the next message the MX
// takes for that account.
func TestManageSieveToDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config.DevConfig(t.TempDir())
	cfg.Hostname = "mx.s.test"
	cfg.Domains = []string{"s.test"}
	cfg.TLS = config.TLS{}
	lo := "127.0.0.1:0"
	cfg.Listeners = config.Listeners{SMTP: lo, ManageSieve: lo}
	a, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	alice, err := a.Store.AddAccount(ctx, "alice@s.test", "alicepw")
	if err != nil {
		t.Fatal(err)
	}

	c, err := net.Dial("tcp", listener(t, a, "managesieve"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(c)
	final := func(want string) {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if strings.HasPrefix(line, "OK") || strings.HasPrefix(line, "NO") || strings.HasPrefix(line, "BYE") {
				if !strings.HasPrefix(line, want) {
					t.Fatalf("got %q, want %s", line, want)
				}
				return
			}
		}
	}
	final("OK") // greeting
	// Dev mode: PLAIN without TLS from loopback.
	fmt.Fprintf(c, "AUTHENTICATE \"PLAIN\" \"%s\"\r\n", base64.StdEncoding.EncodeToString([]byte("\x00alice@s.test\x00alicepw")))
	final("OK")
	script := "require [\"fileinto\", \"mailbox\"];\r\nif header :contains \"subject\" \"[list]\" { fileinto :create \"Lists\"; }\r\n"
	fmt.Fprintf(c, "PUTSCRIPT \"rules\" {%d+}\r\n%s\r\n", len(script), script)
	final("OK")
	fmt.Fprintf(c, "SETACTIVE \"rules\"\r\n")
	final("OK")

	msg := "From: x@example.org\r\nTo: alice@s.test\r\nSubject: [list] news\r\n\r\nhi\r\n"
	if err := smtp.SendMail(listener(t, a, "smtp"), nil, "x@example.org", []string{"alice@s.test"}, []byte(msg)); err != nil {
		t.Fatalf("MX: %v", err)
	}
	mb, err := a.Store.Mailbox(ctx, alice.ID, "Lists")
	if err != nil || mb.Messages != 1 {
		t.Fatalf("Lists: %+v %v, want the message filed by the uploaded script", mb, err)
	}
	// Deleting the account ends the ManageSieve session (revocation feed).
	if err := a.Store.DeleteAccount(ctx, "alice@s.test"); err != nil {
		t.Fatal(err)
	}
	final("BYE")
}
