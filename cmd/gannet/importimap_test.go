package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gannet/internal/app"
	"gannet/internal/imapserver"
)

// TestImportIMAPCommand: `gannet import imap` moves an account from one
// Gannet (its IMAP server with a self-signed certificate) into another
// data directory; a rerun moves nothing; the certificate is refused
// without --insecure, and a wrong password is an error.
func TestImportIMAPCommand(t *testing.T) {
	t.Parallel()
	srcData, dstData := t.TempDir(), t.TempDir()
	mustRun(t, "", "domain", "add", "--data", srcData, "example.org")
	mustRun(t, "s3cret\n", "user", "add", "--data", srcData, "alice@example.org")
	mustRun(t, "", "domain", "add", "--data", dstData, "example.net")
	mustRun(t, "pw\n", "user", "add", "--data", dstData, "bob@example.net")
	mbox := writeTestFile(t, filepath.Join(t.TempDir(), "Sent"),
		"From alice@example.org Mon Jan  1 10:00:00 2024\nSubject: sent one\nStatus: RO\nX-Status: AF\nX-Keywords: work\n\n>From here\n\n"+
			"From alice@example.org Wed Jan  3 10:00:00 2024\nSubject: sent two\n\nbye\n")
	mustRun(t, "", "import", "mbox", "--data", srcData, "--to", "alice@example.org", mbox)
	mustRun(t, "", "import", "mbox", "--data", srcData, "--to", "alice@example.org/Work/Deep", mbox)

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if _, err := app.EnsureSelfSigned(certFile, keyFile, []string{"localhost"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	st := openData(t, srcData)
	srv := imapserver.New(imapserver.Options{Store: st, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}}))
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	from := fmt.Sprintf("imaps://alice%%40example.org@%s", ln.Addr())

	out := mustRun(t, "s3cret\n", "import", "imap", "--data", dstData, "--from", from, "--to", "bob@example.net", "--insecure")
	if !strings.Contains(out, "imported 4 messages") || !strings.Contains(out, "Work/Deep") || strings.Contains(out, "skipped") {
		t.Fatalf("import imap:\n%s", out)
	}
	out = mustRun(t, "s3cret\n", "import", "imap", "--data", dstData, "--from", from, "--to", "bob@example.net", "--insecure")
	if !strings.Contains(out, "imported 0 messages") || strings.Contains(out, "skipped") {
		t.Fatalf("rerun of import imap:\n%s", out)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"s3cret\n", []string{"--from", from}, "certificate"},
		{"wrong\n", []string{"--from", from, "--insecure"}, "alice@example.org"},
		{"s3cret\n", []string{"--from", "imaps://alice:pw@host"}, "standard input"},
		{"s3cret\n", []string{"--from", "pop3://a@host"}, "imaps://"},
		{"", []string{"--from", from, "--insecure"}, "empty password"},
	} {
		args := append([]string{"import", "imap", "--data", dstData, "--to", "bob@example.net"}, c.args...)
		code, _, errs := gannet(t, c.stdin, args...)
		if code == 0 || !strings.Contains(errs, c.want) {
			t.Errorf("gannet %v: exit %d, stderr %q, want %q", args, code, errs, c.want)
		}
	}
}
