package mailimport_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"gannet/internal/mailimport"
)

// pythonWriter writes an mbox and a Maildir++ tree with Python's mailbox
// module (mboxo with its From quoting, Status/X-Status flags, Maildir
// flags and a folder), as a real other program leaves them.
const pythonWriter = `
import mailbox, sys, time, email.message
def msg(cls, subject, body):
    m = cls()
    m['From'] = 'alice@example.org'
    m['Subject'] = subject
    m.set_payload(body)
    return m
box = mailbox.mbox(sys.argv[1])
m = msg(mailbox.mboxMessage, 'py one', 'From me\n>From you\nend\n')
m.set_from('alice@example.org', time.gmtime(86400))
m.set_flags('RFA')
box.add(m)
m = msg(mailbox.mboxMessage, 'py two', 'second\n')
m.set_from('bob@example.org', time.gmtime(2 * 86400))
box.add(m)
box.close()
md = mailbox.Maildir(sys.argv[2], create=True)
m = msg(mailbox.MaildirMessage, 'py md', 'in the inbox\n')
m.set_subdir('cur')
m.set_flags('RS')
md.add(m)
work = md.add_folder('Work')
m = msg(mailbox.MaildirMessage, 'py work', 'in a folder\n')
m.set_subdir('cur')
m.set_flags('FP')
work.add(m)
`

func TestPythonMailbox(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found: install the Debian package python3")
	}
	dir := t.TempDir()
	mboxPath, mdPath := filepath.Join(dir, "py.mbox"), filepath.Join(dir, "Maildir")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, py, "-c", pythonWriter, mboxPath, mdPath).CombinedOutput(); err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	f, err := os.Open(mboxPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := readAll(t, mailimport.NewMbox(f, mboxPath, mailimport.Mboxo, mailimport.Limits{}))
	if len(r.msgs) != 2 || len(r.skips) != 0 {
		t.Fatalf("mbox: %v %v", r.order, r.skips)
	}
	// Python quoted "From me" as ">From me" and left ">From you": mboxo
	// cannot tell them apart (the flavour's known loss).
	wantMsg(t, r.msgs[0], "From: alice@example.org\nSubject: py one\n\nFrom me\nFrom you\nend\n",
		[]string{`\Seen`, `\Flagged`, `\Answered`}, time.Unix(86400, 0))
	wantMsg(t, r.msgs[1], "From: alice@example.org\nSubject: py two\n\nsecond\n", nil, time.Unix(2*86400, 0))

	d, err := mailimport.OpenMaildir(mdPath, mailimport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r = readAll(t, d)
	if len(r.msgs) != 2 || r.msgs[0].Mailbox != "INBOX" || r.msgs[1].Mailbox != "Work" {
		t.Fatalf("maildir: %v", r.order)
	}
	if !reflect.DeepEqual(r.msgs[0].Flags, []string{`\Answered`, `\Seen`}) || !reflect.DeepEqual(r.msgs[1].Flags, []string{`\Flagged`, "$Forwarded"}) {
		t.Fatalf("maildir flags %q %q", r.msgs[0].Flags, r.msgs[1].Flags)
	}
	if string(r.msgs[1].Raw) != "From: alice@example.org\r\nSubject: py work\r\n\r\nin a folder\r\n" {
		t.Fatalf("maildir bytes %q", r.msgs[1].Raw)
	}
}
