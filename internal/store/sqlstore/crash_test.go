package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gannet/internal/store"
)

// The crash test re-executes the test binary as a child that delivers in a loop.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GANNET_CRASH_CHILD"); dir != "" {
		crashChild(dir, os.Getenv("GANNET_CRASH_ROUND"))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func crashMessage(token string) []byte {
	// Vary the size so that deliveries span one and several blob frames.
	pad := strings.Repeat("lorem ipsum dolor sit amet ", 1+len(token)*37%3000)
	return []byte("From: crash@example.org\r\nTo: demo@gannet.test\r\nSubject: " + token +
		"\r\nMessage-ID: <" + token + "@example.org>\r\n\r\n" + pad + "\r\n")
}

// crashChild delivers from 8 goroutines until killed, printing "ok TOKEN" only
// after Deliver returned success.
func crashChild(dir, round string) {
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	a, err := s.Account(ctx, "demo@gannet.test")
	if err != nil {
		fmt.Println("error", err)
		return
	}
	var mu sync.Mutex
	fmt.Println("ready")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				token := fmt.Sprintf("r%s-g%d-n%d", round, g, n)
				_, err := s.Deliver(ctx, store.Delivery{Raw: crashMessage(token), Recipients: []store.Recipient{{AccountID: a.ID}}})
				mu.Lock()
				if err != nil {
					fmt.Println("error", err)
				} else {
					fmt.Println("ok", token)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashDurability kills a delivering process with SIGKILL at a random moment,
// 20 times; every delivery that returned success must be present and readable,
// and the database must pass PRAGMA integrity_check.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs in the full suite")
	}
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAccount(ctx, "demo@gannet.test", "pw"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	acked := map[string]bool{}
	for round := range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "GANNET_CRASH_CHILD="+dir, fmt.Sprintf("GANNET_CRASH_ROUND=%d", round))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		if l := <-lines; l != "ready" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("round %d: child said %q", round, l)
		}
		kill := time.After(time.Duration(20+rand.IntN(300)) * time.Millisecond)
		killed := false
		for !killed {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("round %d: child exited early", round)
				}
				recordLine(t, l, acked)
			case <-kill:
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		for l := range lines {
			recordLine(t, l, acked)
		}
		cmd.Wait()
		verifyAcked(t, dir, acked, round)
	}
	if len(acked) < 20 {
		t.Fatalf("only %d deliveries acknowledged over 20 rounds: the test did not exercise the store", len(acked))
	}
	t.Logf("%d acknowledged deliveries verified across 20 SIGKILLs", len(acked))
}

func recordLine(t *testing.T, l string, acked map[string]bool) {
	switch {
	case strings.HasPrefix(l, "ok "):
		acked[strings.TrimPrefix(l, "ok ")] = true
	case strings.HasPrefix(l, "error "):
		t.Errorf("child delivery failed: %s", l)
	}
}

func verifyAcked(t *testing.T, dir string, acked map[string]bool, round int) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatalf("round %d: reopen: %v", round, err)
	}
	defer s.Close()
	if res, err := s.IntegrityCheck(ctx); err != nil || res != "ok" {
		t.Fatalf("round %d: integrity_check = %q, %v", round, res, err)
	}
	a, err := s.Account(ctx, "demo@gannet.test")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.List(ctx, a.ID, mb.ID, nil, store.ListOptions{Parsed: true})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(msgs)) != mb.Messages {
		t.Fatalf("round %d: %d messages listed, counter says %d", round, len(msgs), mb.Messages)
	}
	present := map[string]bool{}
	for _, m := range msgs {
		token := m.Parsed.Subject
		if present[token] {
			t.Fatalf("round %d: %s stored twice", round, token)
		}
		present[token] = true
		rc, err := s.Open(ctx, m.BlobID)
		if err != nil {
			t.Fatalf("round %d: open %s: %v", round, token, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, crashMessage(token)) {
			t.Fatalf("round %d: message %s unreadable or altered (err %v)", round, token, err)
		}
	}
	for token := range acked {
		if !present[token] {
			t.Fatalf("round %d: acknowledged delivery %s lost", round, token)
		}
	}
}
