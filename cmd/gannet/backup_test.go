package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startDev runs `gannet dev --data dir` until the test ends and returns its
// port offset once it has printed its banner.
func startDev(t *testing.T, bin, dir string) int {
	t.Helper()
	offset := 10000 + rand.IntN(14000)
	cmd := exec.Command(bin, "dev", "--data", dir, "--port-offset", strconv.Itoa(offset))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Press Ctrl-C") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatal("gannet dev did not print its banner within 60 s")
	}
	return offset
}

// sendPlain sends one message over SMTP without STARTTLS (net/smtp's
// SendMail insists on it when offered, and the dev certificate is
// self-signed).
func sendPlain(t *testing.T, addr, from, to, msg string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Mail(from)
	if err == nil {
		err = c.Rcpt(to)
	}
	if err == nil {
		var w io.WriteCloser
		if w, err = c.Data(); err == nil {
			if _, err = io.WriteString(w, msg); err == nil {
				err = w.Close()
			}
		}
	}
	if err == nil {
		err = c.Quit()
	}
	if err != nil {
		t.Fatal(err)
	}
}

// pop3Stat logs in over POP3 and returns STAT's message count.
func pop3Stat(t *testing.T, addr, user, pass string) int {
	t.Helper()
	// Implicit TLS (the dev server's certificate is its own, self-signed).
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := textproto.NewConn(nc)
	defer c.Close()
	cmd := func(format string, args ...any) string {
		if format != "" {
			if err := c.PrintfLine(format, args...); err != nil {
				t.Fatal(err)
			}
		}
		line, err := c.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(line, "+OK") {
			t.Fatalf("POP3 %q: %s", format, line)
		}
		return line
	}
	cmd("")
	cmd("USER %s", user)
	cmd("PASS %s", pass)
	var n, size int
	if _, err := fmt.Sscanf(cmd("STAT"), "+OK %d %d", &n, &size); err != nil {
		t.Fatal(err)
	}
	c.PrintfLine("QUIT")
	return n
}

// TestBackupRestoreServe is the README's backup story end to end with the
// real binary: mail delivered over SMTP to a running server; `gannet
// backup` while it runs; `gannet restore` into a new directory (which
// verifies); `gannet verify` on it and on the live directory; a server started on the restored
// directory serves the mail; and verify reports a damaged message file
// with a non-zero exit.
func TestBackupRestoreServe(t *testing.T) {
	t.Parallel()
	bin := buildGannet(t)
	dir := filepath.Join(t.TempDir(), "data")
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("gannet %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	offset := startDev(t, bin, dir)
	cmd := exec.Command(bin, "user", "add", "--data", dir, "bob@gannet.test")
	cmd.Stdin = strings.NewReader("bob's password 1\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	const n = 12
	smtpAddr := fmt.Sprintf("127.0.0.1:%d", 2525+offset)
	for i := range n {
		body := fmt.Sprintf("message %d\r\n", i)
		if i%3 == 0 { // over the inline limit: a message file
			body += strings.Repeat(fmt.Sprintf("line %d of a long message, different from the others\r\n", i), 4000)
		}
		msg := "From: a@example.org\r\nTo: bob@gannet.test\r\nSubject: m" + strconv.Itoa(i) + "\r\n\r\n" + body
		sendPlain(t, smtpAddr, "a@example.org", "bob@gannet.test", msg)
	}
	// verify works on the running server's directory.
	if out := run(true, "verify", "--data", dir); !strings.Contains(out, "no problems") {
		t.Fatalf("verify of the live directory said: %s", out)
	}
	backupDir := filepath.Join(t.TempDir(), "backup")
	out := run(true, "backup", backupDir, "--data", dir)
	if !strings.Contains(out, "complete") || !strings.Contains(out, "4 message files") {
		t.Fatalf("backup said: %s", out)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	out = run(true, "restore", backupDir, "--data", restored)
	if !strings.Contains(out, "no problems") {
		t.Fatalf("restore said: %s", out)
	}
	out = run(true, "verify", "--data", restored)
	if !strings.Contains(out, fmt.Sprintf("%d messages", n)) || !strings.Contains(out, "no problems") {
		t.Fatalf("verify said: %s", out)
	}
	// A second restore into the same directory is refused.
	if out := run(false, "restore", backupDir, "--data", restored); !strings.Contains(out, "not empty") {
		t.Fatalf("restore into a full directory said: %s", out)
	}
	// The restored directory serves the mail.
	offset2 := startDev(t, bin, restored)
	if got := pop3Stat(t, fmt.Sprintf("127.0.0.1:%d", 2995+offset2), "bob@gannet.test", "bob's password 1"); got != n {
		t.Fatalf("the restored server has %d messages, want %d", got, n)
	}
	// Damage one message file of the backup's restore: verify says so.
	files, err := filepath.Glob(filepath.Join(restored, "blobs", "*", "*"))
	if err != nil || len(files) != 4 {
		t.Fatalf("restored files: %v %v", files, err)
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	out = run(false, "verify", "--data", restored)
	if !strings.Contains(out, "is missing") || !strings.Contains(out, "1 problems") {
		t.Fatalf("verify of a damaged store said: %s", out)
	}
}
