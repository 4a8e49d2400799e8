package queue_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

// smtpSink runs Postfix's smtp-sink (Debian package postfix) on a free
// loopback port with extra flags; it returns the address, the directory of
// message dumps, and a function returning its verbose log so far.
func smtpSink(t *testing.T, flags ...string) (addr, dumps string, log func() string) {
	t.Helper()
	bin, err := exec.LookPath("smtp-sink")
	if err != nil {
		bin = "/usr/sbin/smtp-sink"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("smtp-sink not found: install the Debian package postfix (interop tests do not skip)")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	// The sink drops privileges to nobody when run as root, so its dump
	// directory must be writable by anyone; t.TempDir's parents are not.
	dumps, err = os.MkdirTemp("", "gannet-smtp-sink-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dumps) })
	if err := os.Chmod(dumps, 0o777); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-v", "-d", filepath.Join(dumps, "%M.")}, flags...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	args = append(args, addr, "10")
	cmd := exec.Command(bin, args...)
	var mu sync.Mutex
	var out bytes.Buffer
	cmd.Stdout = &lockedWriter{mu: &mu, w: &out}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtp-sink: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtp-sink did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, dumps, func() string {
		mu.Lock()
		defer mu.Unlock()
		return out.String()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func dumpFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestInteropSmtpSinkDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr, dumps, log := smtpSink(t)
	cfg := testConfig()
	cfg.Transports["example.net"] = addr
	q := e.newQueue(cfg)
	bodies := []string{
		"Subject: one\r\n\r\n.leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n",
		"Subject: two\r\n\r\ncaf\xc3\xa9 8-bit\r\n",
		"Subject: three\r\n\r\nbare\nLF\n",
	}
	for i, b := range bodies {
		e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"r" + strconv.Itoa(i) + "@example.net"}, Raw: []byte(b),
			Notify: map[string]string{"r0@example.net": "SUCCESS,FAILURE"}})
	}
	e.flush(q)
	if got := e.queued(); len(got) != 0 {
		t.Fatalf("queue after delivery to smtp-sink: %+v", got)
	}
	files := dumpFiles(t, dumps)
	if len(files) != 3 {
		t.Fatalf("smtp-sink dumped %d messages, want 3; log:\n%s", len(files), log())
	}
	all := strings.Join(files, "\n=====\n")
	for _, want := range []string{
		"\n.leading dot\n..two dots\n.\nafter a lone dot\n", // dot-stuffing undone exactly
		"caf\xc3\xa9 8-bit",
		"\nbare\nLF\n",
		"X-Rcpt-Args: <r0@example.net> NOTIFY=SUCCESS,FAILURE", // smtp-sink offers DSN
		"BODY=8BITMIME",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("dumps lack %q:\n%s", want, all)
		}
	}
	// One session (our readiness probe also connected, but said nothing).
	if n := strings.Count(log(), ": EHLO gannet.test"); n != 1 {
		t.Errorf("smtp-sink saw %d sessions for 3 messages, want 1; log:\n%s", n, log())
	}
}

func TestInteropSmtpSinkRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hard, _, _ := smtpSink(t, "-f", "RCPT")
	soft, _, _ := smtpSink(t, "-r", "RCPT")
	closing, _, _ := smtpSink(t, "-Q", "MAIL")      // 421 and hang up
	noService, _, _ := smtpSink(t, "-f", "CONNECT") // 5xx greeting
	cfg := testConfig()
	cfg.Transports["hard.test"] = hard
	cfg.Transports["soft.test"] = soft
	cfg.Transports["closing.test"] = closing
	cfg.Transports["noservice.test"] = noService
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", AccountID: e.alice.ID,
		Recipients: []string{"x@hard.test", "y@soft.test", "z@closing.test", "w@noservice.test"}})
	e.flush(q)
	// One DSN per route attempt: the two failures came from two hosts.
	failed := map[string]string{}
	for _, raw := range e.inbox(e.alice) {
		for _, r := range parseDSN(t, raw).rcpts {
			failed[r.Get("Final-Recipient")] = r.Get("Status") + " " + r.Get("Diagnostic-Code")
		}
	}
	if len(failed) != 2 || !strings.HasPrefix(failed["rfc822; x@hard.test"], "5.") ||
		!strings.Contains(failed["rfc822; w@noservice.test"], "smtp; 5") {
		t.Errorf("DSN must report the refused recipient and the refusing host, got %v", failed)
	}
	got := e.queued()
	var pending []string
	for _, r := range got[0].Recipients {
		pending = append(pending, r.Address)
		if r.Attempts != 1 {
			t.Errorf("%s: %d attempts", r.Address, r.Attempts)
		}
	}
	if strings.Join(pending, " ") != "y@soft.test z@closing.test" {
		t.Errorf("the soft refusal and the 421 must stay queued, got %v", pending)
	}
}
