package mailexport_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailexport"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// pythonReader reads an mbox with Python's mailbox module and prints each
// message's flags (from Status and X-Status) and bytes.
const pythonReader = `
import mailbox, sys, json
out = []
box = mailbox.mbox(sys.argv[1])
for key in box.keys():
    m = box.get_message(key)
    out.append({"flags": m.get_flags(), "from": m.get_from(), "raw": box.get_bytes(key).decode("latin-1")})
print(json.dumps(out))
`

var mboxrdQuoted = regexp.MustCompile(`(?m)^>(>*From )`)

// TestPythonReadsMbox: Python's mailbox module frames our mbox into the
// same messages, with the same bytes (after undoing mboxrd's quoting and
// the state fields, which it keeps in the message) and flags.
func TestPythonReadsMbox(t *testing.T) {
	t.Parallel()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found: install the Debian package python3")
	}
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "py@example.org", "pw")
	fixture(t, st, acct)
	want := contents(t, st, acct)
	dir, _ := export(t, st, acct, mailexport.Mbox)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, box := range []string{"INBOX", "Work"} {
		out, err := exec.CommandContext(ctx, py, "-c", pythonReader, filepath.Join(dir, box)).Output()
		if err != nil {
			t.Fatalf("python: %v", err)
		}
		var got []struct {
			Flags, From, Raw string
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want[box]) {
			t.Fatalf("%s: Python read %d messages, the store holds %d", box, len(got), len(want[box]))
		}
		for i, g := range got {
			w := want[box][i]
			raw := strings.ReplaceAll(mboxrdQuoted.ReplaceAllString(g.Raw, "$1"), "\n", "\r\n")
			if stripStatus(raw) != stripState(w.raw) {
				t.Errorf("%s %d: Python read\n%q\nwant\n%q", box, i, raw, stripState(w.raw))
			}
			if f := sortLetters(g.Flags); f != pyFlags(w.flags) {
				t.Errorf("%s %d: Python's flags %q, want %q", box, i, f, pyFlags(w.flags))
			}
			if !strings.HasSuffix(g.From, w.date.Format("Mon Jan _2 15:04:05 2006")) {
				t.Errorf("%s %d: From_ line %q, date %s", box, i, g.From, w.date)
			}
		}
	}
}

// stripStatus removes the state fields our export added (Python keeps
// them in the message).
func stripStatus(raw string) string {
	hdr, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		hdr, body = strings.TrimSuffix(raw, "\r\n"), ""
	}
	var keep []string
	for _, l := range strings.Split(hdr, "\r\n") {
		n, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(n) {
		case "status", "x-status", "x-keywords", "x-uid", "x-imapbase":
			continue
		}
		keep = append(keep, l)
	}
	if !ok {
		return strings.Join(keep, "\r\n") + "\r\n"
	}
	return strings.Join(keep, "\r\n") + "\r\n\r\n" + body
}

// pyFlags is what Python's mboxMessage.get_flags says for store flags.
func pyFlags(flags []string) string {
	s := "O"
	for _, f := range flags {
		switch f {
		case store.FlagSeen:
			s += "R"
		case store.FlagAnswered:
			s += "A"
		case store.FlagFlagged:
			s += "F"
		case store.FlagDeleted:
			s += "D"
		case store.FlagDraft:
			s += "T"
		}
	}
	return sortLetters(s)
}

func sortLetters(s string) string {
	b := []byte(s)
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	return string(b)
}

// TestDovecotReadsMaildir: Dovecot (doveadm on a private configuration)
// opens the Maildir export as it is, with the same folders, counts, UIDs,
// flags, keywords, internal dates and bytes.
func TestDovecotReadsMaildir(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("doveadm")
	if err != nil {
		t.Fatal("doveadm not found: install the Debian package dovecot-core (apt-get install -y dovecot-core)")
	}
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "dv@example.org", "pw")
	fixture(t, st, acct)
	want := contents(t, st, acct)
	base := t.TempDir()
	dir := filepath.Join(base, "Maildir")
	ex := &mailexport.Exporter{Store: st, Account: acct, Format: mailexport.Maildir, Dir: dir}
	if err := ex.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("ssl = no\nmail_location = maildir:%s\nbase_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/log\n"+
		"namespace inbox {\n  inbox = yes\n  separator = /\n}\n", dir, base, base, base)
	if os.Getuid() == 0 {
		// Dovecot never touches mail as root: it works as nobody.
		conf += "mail_uid = 65534\nmail_gid = 65534\nfirst_valid_gid = 0\n"
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(base, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	doveadm := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-c", confPath}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+base, "USER=gannet")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("doveadm %q: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	boxes := strings.Fields(doveadm("mailbox", "list"))
	sort.Strings(boxes)
	var wantBoxes []string
	for b := range want {
		wantBoxes = append(wantBoxes, b)
	}
	sort.Strings(wantBoxes)
	if strings.Join(boxes, ",") != strings.Join(wantBoxes, ",") {
		log, _ := os.ReadFile(filepath.Join(base, "log"))
		ls, _ := exec.Command("ls", "-laR", dir).CombinedOutput()
		t.Fatalf("Dovecot lists %q, the store %q\n%s\n%s", boxes, wantBoxes, log, ls)
	}
	got := map[string][]string{}
	for _, rec := range strings.Split(doveadm("fetch", "mailbox uid flags date.received text", "all"), "\f") {
		var box, uid, flags, date string
		text := ""
		if _, after, ok := strings.Cut(rec, "\ntext:\n"); ok {
			text = after
		}
		head, _, _ := strings.Cut(rec, "\ntext:\n")
		for _, line := range strings.Split(head, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "mailbox":
				box = v
			case "uid":
				uid = v
			case "flags":
				flags = v
			case "date.received":
				date = v
			}
		}
		if box == "" {
			continue
		}
		var f []string
		for _, x := range strings.Fields(flags) {
			if x != `\Recent` {
				f = append(f, x)
			}
		}
		got[box] = append(got[box], fmt.Sprintf("uid %s flags %s date %s\n%s", uid, sortFlags(f), date, text))
	}
	ctx := context.Background()
	for box, msgs := range want {
		mb, err := st.Mailbox(ctx, acct.ID, box)
		if err != nil {
			t.Fatal(err)
		}
		list, err := st.List(ctx, acct.ID, mb.ID, nil, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got[box]) != len(msgs) {
			t.Errorf("%s: Dovecot has %d messages, the store %d", box, len(got[box]), len(msgs))
			continue
		}
		for i, m := range msgs {
			w := fmt.Sprintf("uid %d flags %s date %s\n%s", list[i].UID, sortFlags(m.flags),
				m.date.Local().Format("2006-01-02 15:04:05"), m.raw)
			if got[box][i] != w && got[box][i] != strings.ReplaceAll(w, "\r\n", "\n") {
				t.Errorf("%s %d: Dovecot\n%.300q\nstore\n%.300q", box, i, got[box][i], w)
			}
		}
	}
}

func sortFlags(f []string) string {
	f = append([]string(nil), f...)
	sort.Slice(f, func(i, j int) bool { return strings.ToLower(f[i]) < strings.ToLower(f[j]) })
	return strings.Join(f, " ")
}

// TestDovecotReadsMbox: Dovecot (doveadm, mbox storage) reads the mbox
// export's top-level folders with the same counts, flags, keywords,
// internal dates and bytes: it takes the flags from Status, X-Status and
// X-Keywords and hides those fields, as the export intends.
func TestDovecotReadsMbox(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("doveadm")
	if err != nil {
		t.Fatal("doveadm not found: install the Debian package dovecot-core (apt-get install -y dovecot-core)")
	}
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "dvm@example.org", "pw")
	fixture(t, st, acct)
	want := contents(t, st, acct)
	base := t.TempDir()
	dir := filepath.Join(base, "mail")
	ex := &mailexport.Exporter{Store: st, Account: acct, Format: mailexport.Mbox, Dir: dir}
	if err := ex.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("ssl = no\nmail_location = mbox:%s:INBOX=%s/INBOX:INDEX=%s/index\nbase_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/log\n"+
		"namespace inbox {\n  inbox = yes\n  separator = /\n}\n", dir, dir, base, base, base, base)
	if os.Getuid() == 0 {
		conf += "mail_uid = 65534\nmail_gid = 65534\nfirst_valid_gid = 0\n"
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 65534, 65534)
		}); err != nil {
			t.Fatal(err)
		}
	}
	confPath := filepath.Join(base, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, box := range []string{"INBOX", "Sent", "Work"} {
		cmd := exec.CommandContext(ctx, bin, "-c", confPath, "fetch", "flags date.received text", "mailbox", box)
		cmd.Env = append(os.Environ(), "HOME="+base, "USER=gannet")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("doveadm fetch %s: %v\n%s", box, err, errb.String())
		}
		var got []string
		for _, rec := range strings.Split(out.String(), "\f") {
			head, text, ok := strings.Cut(rec, "\ntext:\n")
			if !ok {
				continue
			}
			var flags, date string
			for _, line := range strings.Split(head, "\n") {
				k, v, _ := strings.Cut(line, ": ")
				switch strings.TrimSpace(k) {
				case "flags":
					flags = v
				case "date.received":
					date = v
				}
			}
			var f []string
			for _, x := range strings.Fields(flags) {
				if x != `\Recent` {
					f = append(f, x)
				}
			}
			got = append(got, fmt.Sprintf("flags %s date %s\n%s", sortFlags(f), date, strings.ReplaceAll(text, "\r\n", "\n")))
		}
		if len(got) != len(want[box]) {
			t.Fatalf("%s: Dovecot has %d messages, the store %d\n%s", box, len(got), len(want[box]), out.String())
		}
		for i, m := range want[box] {
			w := fmt.Sprintf("flags %s date %s\n%s", sortFlags(m.flags), m.date.Local().Format("2006-01-02 15:04:05"),
				mboxoView(strings.ReplaceAll(stripState(m.raw), "\r\n", "\n")))
			if got[i] != w {
				t.Errorf("%s %d: Dovecot\n%.300q\nstore\n%.300q", box, i, got[i], w)
			}
		}
	}
}

// mboxoView is what Dovecot (and mutt) show of a message the mbox export
// wrote: they never undo From quoting, so every ">*From " line of the
// message keeps the ">" the export added (mboxrd readers take it off).
func mboxoView(text string) string {
	return quotedFrom.ReplaceAllString(text, ">$1")
}

var quotedFrom = regexp.MustCompile(`(?m)^(>*From )`)
