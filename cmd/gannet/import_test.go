package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gannet/internal/imapserver"
)

func writeTestFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestImportCommands runs `gannet import mbox` and `gannet import maildir`
// on real files into a real data directory, reruns them (nothing added),
// and reads the result back over IMAP with Python's imaplib.
func TestImportCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	src := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", data, "example.org")
	mustRun(t, "s3cret\n", "user", "add", "--data", data, "alice@example.org")

	sent := writeTestFile(t, filepath.Join(src, "Sent"),
		"From alice@example.org Mon Jan  1 10:00:00 2024\nFrom: alice@example.org\nSubject: sent one\nStatus: RO\nX-Status: AF\nX-Keywords: work\n\n>From here\n\n"+
			"From alice@example.org Tue Jan  2 10:00:00 2024\n\nno header here\n\n"+
			"From alice@example.org Wed Jan  3 10:00:00 2024\nSubject: sent two\n\nbye\n")
	inbox := writeTestFile(t, filepath.Join(src, "Inbox"), strings.ReplaceAll(
		"From - Thu Feb  1 09:00:00 2024\nX-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\nSubject: tb\n\nhello\n", "\n", "\r\n"))
	md := filepath.Join(src, "Maildir")
	writeTestFile(t, filepath.Join(md, "cur", "1700000000.M1P1.host:2,Sa"), "Subject: in maildir\n\nmd body\n")
	writeTestFile(t, filepath.Join(md, ".Work.2024", "cur", "1700000100.M2P1.host:2,Fb"), "Subject: work item\n\nwork body\n")
	writeTestFile(t, filepath.Join(md, ".Work.2024", "dovecot-keywords"), "0 x\n1 project\n")
	writeTestFile(t, filepath.Join(md, "dovecot-keywords"), "0 $Important\n")

	out := mustRun(t, "", "import", "mbox", "--data", data, "--to", "alice@example.org", "--progress", "1ns", sent, inbox)
	for _, want := range []string{"imported 3 messages", "progress: ", "msg/s", "skipped 1: no header 1",
		sent + ": offset 144: no header", "  INBOX ", "  Sent "} {
		if !strings.Contains(out, want) {
			t.Errorf("import mbox output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, "", "import", "maildir", "--data", data, "--to", "alice@example.org", md)
	if !strings.Contains(out, "imported 2 messages") || !strings.Contains(out, "Work/2024") {
		t.Errorf("import maildir output:\n%s", out)
	}
	// Reruns add nothing.
	out = mustRun(t, "", "import", "mbox", sent, inbox, "--to", "alice@example.org", "--data", data)
	if !strings.Contains(out, "imported 0 messages") || !strings.Contains(out, "already imported 3") {
		t.Errorf("rerun of import mbox:\n%s", out)
	}
	out = mustRun(t, "", "import", "maildir", "--data", data, "--to", "alice@example.org", md)
	if !strings.Contains(out, "imported 0 messages") || !strings.Contains(out, "already imported 2") {
		t.Errorf("rerun of import maildir:\n%s", out)
	}
	// Into one mailbox, another flavour.
	out = mustRun(t, "", "import", "mbox", "--data", data, "--to", "alice@example.org/Old/2023", "--format", "mboxo", sent)
	if !strings.Contains(out, "imported 2 messages") || !strings.Contains(out, "Old/2023") {
		t.Errorf("import into a mailbox:\n%s", out)
	}

	// A directory of mbox files (Thunderbird's Local Folders, mutt's ~/Mail):
	// the two files in src (the Maildir beside them holds no mbox file).
	out = mustRun(t, "", "import", "mbox", "--data", data, "--to", "alice@example.org/Tb", src)
	if !strings.Contains(out, "imported 3 messages") || !strings.Contains(out, "  Tb ") {
		t.Errorf("import of a directory:\n%s", out)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "mbox", "--data", data, sent}, "usage"},
		{[]string{"import", "mbox", "--data", data, "--to", "alice@example.org", md}, "no mbox files"},
		{[]string{"import", "mbox", "--data", data, "--to", "alice@example.org", filepath.Join(src, "nope")}, "no such file"},
		{[]string{"import", "mbox", "--data", data, "--to", "nobody@example.org", sent}, "not found"},
		{[]string{"import", "mbox", "--data", data, "--to", "alice@example.org", "--format", "mmdf", sent}, "unknown mbox format"},
		{[]string{"import", "maildir", "--data", data, "--to", "alice@example.org/X", md}, "just the address"},
		{[]string{"import", "maildir", "--data", data, "--to", "alice@example.org", t.TempDir()}, "no cur/"},
		{[]string{"import", "frob"}, "unknown verb"},
	} {
		code, _, errs := gannet(t, "", c.args...)
		if code == 0 || !strings.Contains(strings.ToLower(errs), c.want) {
			t.Errorf("gannet %v: exit %d, stderr %q, want %q", c.args, code, errs, c.want)
		}
	}

	// What was imported is what an IMAP client sees.
	st := openData(t, data)
	srv := imapserver.New(imapserver.Options{Store: st, Dev: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found: install the Debian package python3")
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", importIMAPCheck, host, port)
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "imap ok") {
		t.Fatalf("imaplib check: %v\n%s", err, b)
	}
}

const importIMAPCheck = `
import imaplib, sys
M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))
M.login('alice@example.org', 's3cret')
typ, data = M.list()
names = b' '.join(data)
for n in (b' Work/2024', b' Old/2023', b' Sent'):
    assert n in names, (n, data)
typ, data = M.select('Sent', readonly=True)
assert data == [b'2'], data
typ, data = M.fetch('1', '(FLAGS INTERNALDATE BODY.PEEK[])')
meta, body = data[0]
for f in (b'\\Answered', b'\\Flagged', b'\\Seen', b'work'):
    assert f in meta, meta
assert b'01-Jan-2024 10:00:00 +0000' in meta, meta
assert body == b'From: alice@example.org\r\nSubject: sent one\r\n\r\nFrom here\r\n', body
typ, data = M.select('INBOX', readonly=True)
assert data == [b'2'], data
typ, data = M.fetch('1:2', '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
got = b' '.join(x[0] + x[1] for x in data if isinstance(x, tuple))
assert b'$Important' in got and b'Subject: tb' in got and b'Subject: in maildir' in got, data
assert b'X-Mozilla' not in got, data
typ, data = M.select('"Work/2024"', readonly=True)
typ, data = M.fetch('1', '(FLAGS)')
assert b'\\Flagged' in data[0] and b'project' in data[0], data
typ, data = M.status('"Old/2023"', '(MESSAGES)')
assert b'MESSAGES 2' in data[0], data
M.logout()
print('imap ok')
`
