package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/imapserver"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// benchServer starts a Gannet IMAP server with user1@example.test on a
// real listener and returns its address.
func benchServer(t *testing.T) string {
	t.Helper()
	st := testopen.Open(t, testopen.FastPasswords)
	storetest.NewAccount(t, st, "user1@example.test", "pass")
	srv := imapserver.New(imapserver.Options{Store: st, Dev: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		st.Close()
	})
	return ln.Addr().String()
}

func TestBenchIMAP(t *testing.T) {
	t.Parallel()
	addr := benchServer(t)
	code, out, errs := gannet(t, "", "bench", "imap", "--addr", addr, "--users", "user%d@example.test",
		"--user-range", "1", "--clients", "2", "--secs", "2", "--runs", "2") // long enough for whole sessions (APPEND, LOGOUT) on a loaded machine
	if code != 0 {
		t.Fatalf("exit %d, stderr %q, stdout %q", code, errs, out)
	}
	for _, want := range []string{"run 1: imap " + addr, "run 2: ", "APPEND", "LOGOUT", " 0 errors", "MEDIAN gannet bench imap"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A name without %d ignores the default --user-range: one user.
	code, out, _ = gannet(t, "", "bench", "imap", "--addr", addr, "--users", "user1@example.test", "--secs", "0.3")
	if code != 0 || !strings.Contains(out, " 0 errors") {
		t.Errorf("single user: exit %d\n%s", code, out)
	}
}

func TestBenchIMAPFailures(t *testing.T) {
	t.Parallel()
	addr := benchServer(t)
	code, out, errs := gannet(t, "", "bench", "imap", "--addr", addr, "--users", "user1@example.test",
		"--password", "wrong", "--clients", "1", "--secs", "0.3")
	if code != 1 || !strings.Contains(errs, "commands failed") || !strings.Contains(out, "error: client 0 LOGIN") {
		t.Errorf("wrong password: exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
	for _, args := range [][]string{
		{"--addr", "10.0.0.1:143"},
		{"--addr", "mail.example.com:143"},
		{"--addr", addr, "--secs", "601"},
		{"--addr", addr, "--users", "alice@example.test", "--user-range", "1-2"},
		{"--addr", addr, "extra"},
	} {
		code, _, errs := gannet(t, "", append([]string{"bench", "imap"}, args...)...)
		if code == 0 {
			t.Errorf("bench imap %q: exit 0, want a refusal (stderr %q)", args, errs)
		}
	}
	if code, _, _ := gannet(t, "", "bench", "smtp"); code == 0 {
		t.Error("bench smtp: exit 0 for an unknown verb")
	}
}
