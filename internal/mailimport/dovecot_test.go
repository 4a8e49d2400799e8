package mailimport_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailimport"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// doveadm runs Dovecot's doveadm on a private configuration whose only
// mail is the Maildir++ tree under dir (no server, no system config).
type doveadm struct {
	t    *testing.T
	bin  string
	conf string
}

func newDoveadm(t *testing.T, dir string) *doveadm {
	t.Helper()
	bin, err := exec.LookPath("doveadm")
	if err != nil {
		t.Fatal("doveadm not found: install the Debian package dovecot-core (apt-get install -y dovecot-core)")
	}
	conf := fmt.Sprintf("ssl = no\nmail_location = maildir:%s/Maildir\nbase_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/log\n"+
		"namespace inbox {\n  inbox = yes\n  separator = /\n}\n", dir, dir, dir, dir)
	if os.Getuid() == 0 {
		// Dovecot never touches mail as root: it works as nobody, in a
		// directory nobody may write.
		conf += "mail_uid = 65534\nmail_gid = 65534\nfirst_valid_gid = 0\n"
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return &doveadm{t: t, bin: bin, conf: p}
}

func (d *doveadm) run(stdin string, args ...string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.bin, append([]string{"-c", d.conf}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(d.conf), "USER=gannet")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("doveadm %q: %v\n%s", args, err, errb.String())
	}
	return out.String()
}

// TestImportDovecotMaildir: a Maildir++ tree written by Dovecot itself,
// with keywords, nested and special folders and a non-ASCII name, imports
// with every folder, flag, keyword and byte intact.
func TestImportDovecotMaildir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dv := newDoveadm(t, dir)
	dv.run("", "mailbox", "create", "Sent", "Work/2024", "Entwürfe", "Trash")
	for i, box := range []string{"INBOX", "INBOX", "INBOX", "Sent", "Work/2024", "Work/2024", "Entwürfe", "Trash"} {
		dv.run(fmt.Sprintf("From: a@example.org\nSubject: %s %d\nMessage-ID: <%d@example.org>\n\nbody %d\n", box, i, i, i), "save", "-m", box)
	}
	dv.run("", "flags", "add", `\Seen $Important work`, "mailbox", "INBOX", "1:2")
	dv.run("", "flags", "add", `\Answered`, "mailbox", "INBOX", "2")
	dv.run("", "flags", "add", `\Seen`, "mailbox", "Sent", "all")
	dv.run("", "flags", "add", `\Flagged project $Forwarded`, "mailbox", "Work/2024", "1")
	dv.run("", "flags", "add", `\Draft later`, "mailbox", "Entwürfe", "all")
	dv.run("", "flags", "add", `\Deleted`, "mailbox", "Trash", "all")
	// What Dovecot says it holds: mailbox → flags of each message, and the bytes.
	want := map[string][]string{}
	wantText := map[string][]string{}
	for _, rec := range strings.Split(dv.run("", "fetch", "mailbox uid flags text", "all"), "\f") {
		var box, flags string
		text := ""
		if _, after, ok := strings.Cut(rec, "\ntext:\n"); ok {
			text = after
		}
		for _, line := range strings.Split(rec, "\n") {
			if v, ok := strings.CutPrefix(line, "mailbox: "); ok {
				box = v
			}
			if v, ok := strings.CutPrefix(line, "flags: "); ok {
				flags = v
			}
		}
		if box == "" {
			continue
		}
		var f []string
		for _, x := range strings.Fields(flags) {
			if x != `\Recent` { // session state, not stored (RFC 9051 dropped it)
				f = append(f, x)
			}
		}
		sort.Slice(f, func(i, j int) bool { return strings.ToLower(f[i]) < strings.ToLower(f[j]) })
		want[box] = append(want[box], strings.Join(f, " "))
		wantText[box] = append(wantText[box], strings.ReplaceAll(text, "\n", "\r\n"))
	}
	if len(want) != 5 {
		t.Fatalf("doveadm fetch gave %v", want)
	}

	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "erin@example.org", "pw")
	d, err := mailimport.OpenMaildir(filepath.Join(dir, "Maildir"), mailimport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	im := &mailimport.Importer{Store: st, Account: acct}
	if err := im.Import(ctx, d); err != nil {
		t.Fatal(err)
	}
	if s := im.Summary(); s.Messages != 8 || s.SkippedTotal() != 0 {
		t.Fatalf("summary %+v", s)
	}
	for box, flagList := range want {
		mb, err := st.Mailbox(ctx, acct.ID, box)
		if err != nil {
			t.Fatalf("mailbox %s: %v", box, err)
		}
		msgs, err := st.List(ctx, acct.ID, mb.ID, nil, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != len(flagList) {
			t.Fatalf("%s: %d messages, Dovecot has %d", box, len(msgs), len(flagList))
		}
		for i, m := range msgs {
			f := append([]string(nil), m.Flags...)
			sort.Slice(f, func(i, j int) bool { return strings.ToLower(f[i]) < strings.ToLower(f[j]) })
			if got := strings.Join(f, " "); got != flagList[i] {
				t.Errorf("%s message %d: flags %q, Dovecot %q", box, i+1, got, flagList[i])
			}
			rc, err := st.Open(ctx, m.BlobID)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			b.ReadFrom(rc)
			rc.Close()
			if b.String() != wantText[box][i] {
				t.Errorf("%s message %d: bytes %q, Dovecot %q", box, i+1, b.String(), wantText[box][i])
			}
		}
	}
	// Sent and Trash are the account's special-use mailboxes, not new ones.
	for _, use := range []string{store.SpecialSent, store.SpecialTrash} {
		mb, err := store.FindSpecialMailbox(ctx, st, acct.ID, use)
		if err != nil || mb.Messages != 1 {
			t.Errorf("%s mailbox: %+v, %v", use, mb, err)
		}
	}
}
