package imapserver_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/imapserver"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// tool returns the path of a program the interop tests need; a missing
// program fails the test with the package to install, never skips it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian package %s (apt-get install -y %s)", name, pkg, pkg)
	}
	return p
}

func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out.String())
	}
	return out.String()
}

const imaplibFlow = `
import imaplib, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
M = imaplib.IMAP4(host, port)
assert 'IMAP4REV1' in M.capabilities, M.capabilities
M.login(user, pw)
typ, data = M.list()
assert typ == 'OK' and any(b'INBOX' in d for d in data), data
typ, data = M.select('INBOX')
assert typ == 'OK' and data == [b'2'], data
typ, data = M.search(None, 'FROM', '"bob"')
assert data == [b'2'], data
typ, data = M.fetch('1:2', '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
assert typ == 'OK' and b'Subject: first' in data[0][1], data
typ, data = M.fetch('2', '(RFC822)')
assert b'hello from bob' in data[0][1], data
typ, data = M.store('1', '+FLAGS', '(\\Flagged)')
assert typ == 'OK' and b'\\Flagged' in data[0], data
typ, data = M.append('Drafts', '(\\Draft)', imaplib.Time2Internaldate(0), b'Subject: draft\r\n\r\nbody\r\n')
assert typ == 'OK' and b'APPENDUID' in data[0], data
typ, data = M.copy('1:2', 'Archive')
assert typ == 'OK', data
typ, data = M.create('Projects/2024')
assert typ == 'OK', data
typ, data = M.status('Archive', '(MESSAGES UIDNEXT)')
assert b'MESSAGES 2' in data[0], data
typ, data = M.uid('SEARCH', 'ALL')
assert len(data[0].split()) == 2, data
M.store('1', '+FLAGS', '(\\Deleted)')
typ, data = M.expunge()
assert data == [b'1'], data
typ, data = M.getquotaroot('INBOX')
assert typ == 'OK', data
M.close()
M.logout()
print('imaplib flow ok')
`

func TestInteropPythonImaplib(t *testing.T) {
	t.Parallel()
	py := tool(t, "python3", "python3")
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "first"}, storetest.Msg{Subject: "second", From: "Bob <bob@example.net>", Body: "hello from bob\n"})
	script := filepath.Join(t.TempDir(), "flow.py")
	if err := os.WriteFile(script, []byte(imaplibFlow), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(e.addr)
	out := run(t, time.Minute, py, script, host, port, testUser, testPass)
	if !strings.Contains(out, "imaplib flow ok") {
		t.Errorf("imaplib: %s", out)
	}
	if n := e.mailbox("Archive").Messages; n != 2 {
		t.Errorf("Archive has %d messages after imaplib COPY", n)
	}
	if n := e.mailbox("INBOX").Messages; n != 1 {
		t.Errorf("INBOX has %d messages after imaplib EXPUNGE", n)
	}
}

func TestInteropCurl(t *testing.T) {
	t.Parallel()
	curl := tool(t, "curl", "curl")
	e := newEnv(t)
	body := "curl can read this\n"
	uids := e.deliver("INBOX", storetest.Msg{Subject: "for curl", Body: body})
	user := testUser + ":" + testPass
	base := "imap://" + e.addr
	out := run(t, time.Minute, curl, "-sS", "--user", user, base+"/")
	if !strings.Contains(out, `* LIST (\HasNoChildren) "/" INBOX`) || !strings.Contains(out, "Sent") {
		t.Errorf("curl LIST: %q", out)
	}
	out = run(t, time.Minute, curl, "-sS", "--user", user, base+"/INBOX;UID="+uitoa(uids[0]))
	if out != string((storetest.Msg{Subject: "for curl", Body: body}).Bytes()) {
		t.Errorf("curl FETCH: %q", out)
	}
	out = run(t, time.Minute, curl, "-sS", "--user", user, base+"/INBOX?SUBJECT%20curl")
	if strings.TrimSpace(out) != "* SEARCH 1" {
		t.Errorf("curl SEARCH: %q", out)
	}
	out = run(t, time.Minute, curl, "-sS", "--user", user, base+"/INBOX;UID="+uitoa(uids[0])+";SECTION=HEADER.FIELDS%20(SUBJECT)")
	if !strings.Contains(out, "Subject: for curl") {
		t.Errorf("curl section: %q", out)
	}
}

// TestInteropMbsync syncs a 500-message account with mbsync (isync) both
// ways, twice, over implicit TLS, and checks that nothing is duplicated or
// lost, that a flag set on the server reaches the Maildir and that a local
// deletion reaches the server.
func TestInteropMbsync(t *testing.T) {
	t.Parallel()
	mbsync := tool(t, "mbsync", "isync")
	srvCfg, _ := selfSigned(t)
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv := imapserver.New(imapserver.Options{Store: e.st})
	go tlsSrv.Serve(tls.NewListener(ln, srvCfg))
	t.Cleanup(func() { tlsSrv.Close() })

	const n = 500
	ctx := context.Background()
	inbox := e.mailbox("INBOX")
	// Concurrent appends share commits (group commit), which keeps this fast.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 20; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 20 {
				raw := storetest.Msg{Subject: fmt.Sprintf("message %d", i), Body: fmt.Sprintf("body %d\n", i)}.Bytes()
				if _, err := e.st.Append(ctx, e.acct.ID, inbox.ID, raw, nil, time.Time{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvCfg.Certificates[0].Certificate[0]})
	if err := os.WriteFile(certFile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	maildir := filepath.Join(dir, "mail")
	if err := os.Mkdir(maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	conf := fmt.Sprintf(`IMAPAccount gannet
Host %s
Port %s
User %s
Pass "%s"
SSLType IMAPS
CertificateFile %s
AuthMechs LOGIN

IMAPStore remote
Account gannet

MaildirStore local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns INBOX
Create Both
Expunge Both
SyncState *
Sync All
`, host, port, testUser, testPass, certFile, maildir, maildir)
	confFile := filepath.Join(dir, "mbsyncrc")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	sync := func() { run(t, 5*time.Minute, mbsync, "-c", confFile, "-a") }
	local := func() []string {
		var files []string
		for _, sub := range []string{"cur", "new"} {
			ents, err := os.ReadDir(filepath.Join(maildir, "INBOX", sub))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				files = append(files, filepath.Join(maildir, "INBOX", sub, e.Name()))
			}
		}
		return files
	}
	subjects := func(files []string) map[string]int {
		m := map[string]int{}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
				if strings.HasPrefix(l, "Subject: ") {
					m[l]++
				}
			}
		}
		return m
	}
	check := func(when string, want int) {
		t.Helper()
		files := local()
		subs := subjects(files)
		if len(files) != want || len(subs) != want {
			t.Fatalf("%s: %d local files, %d distinct subjects, want %d", when, len(files), len(subs), want)
		}
		if m := e.mailbox("INBOX").Messages; m != int64(want) {
			t.Fatalf("%s: server has %d messages, want %d", when, m, want)
		}
	}
	sync()
	check("first sync", n)
	sync()
	check("second sync", n)

	// A flag set on the server reaches the Maildir.
	serverSubjects := func() map[string]uint32 {
		msgs, err := e.st.List(ctx, e.acct.ID, inbox.ID, nil, store.ListOptions{Parsed: true})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]uint32{}
		for _, msg := range msgs {
			if _, dup := m[msg.Parsed.Subject]; dup {
				t.Errorf("duplicate on the server: %q", msg.Parsed.Subject)
			}
			m[msg.Parsed.Subject] = msg.UID
		}
		return m
	}
	flagged := serverSubjects()["message 7"]
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: flagged, Hi: flagged}}, store.FlagsAdd, []string{store.FlagFlagged}, 0); err != nil {
		t.Fatal(err)
	}
	sync()
	nflagged := 0
	for _, f := range local() {
		if i := strings.LastIndex(f, ":2,"); i >= 0 && strings.Contains(f[i:], "F") {
			b, _ := os.ReadFile(f)
			if !strings.Contains(strings.ReplaceAll(string(b), "\r", ""), "Subject: message 7\n") {
				t.Errorf("wrong message flagged locally: %s", f)
			}
			nflagged++
		}
	}
	if nflagged != 1 {
		t.Errorf("%d locally flagged messages, want 1", nflagged)
	}
	// A local deletion reaches the server.
	var victim string
	for _, f := range local() {
		if b, _ := os.ReadFile(f); strings.Contains(strings.ReplaceAll(string(b), "\r", ""), "Subject: message 42\n") {
			victim = f
		}
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	// And a new local message reaches the server.
	newMsg := storetest.Msg{Subject: "written locally"}.Bytes()
	if err := os.WriteFile(filepath.Join(maildir, "INBOX", "new", "1700000000.local.host"), newMsg, 0o600); err != nil {
		t.Fatal(err)
	}
	sync()
	check("after local changes", n) // one deleted, one added
	subs := serverSubjects()
	if _, ok := subs["message 42"]; ok {
		t.Errorf("locally deleted message still on the server")
	}
	if _, ok := subs["written locally"]; !ok {
		t.Errorf("locally written message not on the server")
	}
	sync()
	check("final sync", n)
	if len(serverSubjects()) != n {
		t.Errorf("server subjects after final sync: %d", len(serverSubjects()))
	}
}
