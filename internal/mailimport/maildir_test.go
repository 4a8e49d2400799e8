package mailimport_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailimport"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// writeFile writes a file (and its directories) under root.
func writeFile(t *testing.T, root, rel, content string) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mkdirs(t *testing.T, root string, rels ...string) {
	t.Helper()
	for _, r := range rels {
		if err := os.MkdirAll(filepath.Join(root, filepath.FromSlash(r)), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// maildirTree builds a Maildir++ tree as Dovecot and Courier leave it: LF
// files, dovecot-keywords, dovecot-uidlist whose order differs from the
// names' times, a message in tmp/, nested and special folders, a folder
// name in modified UTF-7, an empty folder, a message without a header.
func maildirTree(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "Maildir")
	mkdirs(t, root, "tmp", ".Entw&APw-rfe/cur", ".Entw&APw-rfe/new", ".Entw&APw-rfe/tmp")
	m1 := writeFile(t, root, "cur/1700000100.M1P1.host,S=40:2,S", "Subject: inbox one\nFrom: a@example.org\n\nfirst\n")
	writeFile(t, root, "cur/1700000000.M2P1.host:2,RSab", "Subject: inbox two\n\nsecond\n")
	writeFile(t, root, "new/1700000200.M3P1.host", "Subject: inbox new\n\nthird\n")
	writeFile(t, root, "tmp/1700000300.M4P1.host", "Subject: in tmp\n\nnever delivered\n")
	writeFile(t, root, "dovecot-keywords", "0 work\n1 $Label2\n")
	writeFile(t, root, "dovecot-uidlist", "3 V1700000000 N4 Gabc\n1 :1700000100.M1P1.host,S=40\n2 W30 :1700000000.M2P1.host\n3 :1700000200.M3P1.host\n")
	writeFile(t, root, "subscriptions", "Sent\nWork.2024\n")
	writeFile(t, root, ".Sent/maildirfolder", "")
	writeFile(t, root, ".Sent/cur/1700000400.M5P1.host:2,S", "Subject: sent\n\nsent body\n")
	writeFile(t, root, ".Sent.2019/cur/1700000500.M6P1.host:2,S", "Subject: sent 2019\n\nold\n")
	writeFile(t, root, ".Drafts/cur/1700000600.M7P1.host:2,DS", "Subject: draft\n\nunfinished\n")
	writeFile(t, root, ".Work.2024/cur/1700000700.M8P1.host:2,FP", "Subject: work\r\n\r\nCRLF already\r\n")
	writeFile(t, root, ".Work.2024/courierimapkeywords/:list", "urgent\nlater\n\n1700000700.M8P1.host:0 1\n")
	writeFile(t, root, ".Work.2024/cur/1700000800.M9P1.host:2,", "\nno header at all\n")
	// m1 keeps its INTERNALDATE in its mtime (Dovecot sets it on save).
	old := time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(m1, old, old); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestMaildirReader(t *testing.T) {
	t.Parallel()
	root := maildirTree(t)
	d, err := mailimport.OpenMaildir(root, mailimport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	wantFolders := []string{"INBOX", "Drafts", "Entwürfe", "Sent", "Sent/2019", "Work/2024"}
	if got := d.Folders(); !reflect.DeepEqual(got, wantFolders) {
		t.Fatalf("folders %q, want %q", got, wantFolders)
	}
	r := readAll(t, d)
	type got struct {
		box, subject string
		flags        []string
	}
	var gots []got
	for _, m := range r.msgs {
		subj, _, _ := strings.Cut(strings.TrimPrefix(string(m.Raw), "Subject: "), "\r\n")
		gots = append(gots, got{m.Mailbox, subj, m.Flags})
		if strings.Contains(strings.ReplaceAll(string(m.Raw), "\r\n", ""), "\n") {
			t.Errorf("%s: bare LF left: %q", m.Pos, m.Raw)
		}
	}
	want := []got{
		{"INBOX", "inbox one", []string{`\Seen`}},
		{"INBOX", "inbox two", []string{`\Answered`, `\Seen`, "work", "$Label2"}},
		{"INBOX", "inbox new", nil},
		{"Drafts", "draft", []string{`\Draft`, `\Seen`}},
		{"Sent", "sent", []string{`\Seen`}},
		{"Sent/2019", "sent 2019", []string{`\Seen`}},
		{"Work/2024", "work", []string{`\Flagged`, "$Forwarded", "urgent", "later"}},
	}
	if !reflect.DeepEqual(gots, want) {
		t.Fatalf("messages\n got %v\nwant %v", gots, want)
	}
	if len(r.skips) != 1 || r.skips[0].Reason != mailimport.ReasonNoHeader || !strings.HasSuffix(r.skips[0].Pos.File, "M9P1.host:2,") {
		t.Fatalf("skips %v", r.skips)
	}
	if d := r.msgs[0].Date; !d.Equal(time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("date from mtime: %v", d)
	}
	if d := r.msgs[1].Date; !d.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("date from the file name: %v", d)
	}
	if d.Offset() != d.Size() || d.Size() == 0 {
		t.Errorf("offset %d of %d", d.Offset(), d.Size())
	}
}

func TestMaildirErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := mailimport.OpenMaildir(filepath.Join(dir, "nope"), mailimport.Limits{}); err == nil {
		t.Error("a missing directory opens")
	}
	if _, err := mailimport.OpenMaildir(dir, mailimport.Limits{}); err == nil || !strings.Contains(err.Error(), "no cur/") {
		t.Errorf("an empty directory: %v", err)
	}
	f := writeFile(t, dir, "file", "x")
	if _, err := mailimport.OpenMaildir(f, mailimport.Limits{}); err == nil {
		t.Error("a file opens as a maildir")
	}
	// Too large and a long line are skipped, the rest read.
	root := filepath.Join(dir, "md")
	writeFile(t, root, "cur/1.a:2,", "Subject: big\n\n"+strings.Repeat("x\n", 600))
	writeFile(t, root, "cur/2.a:2,", "Subject: long\n\n"+strings.Repeat("x", 600)+"\n")
	writeFile(t, root, "cur/3.a:2,", "Subject: ok\n\nfine\n")
	d, err := mailimport.OpenMaildir(root, mailimport.Limits{MaxSize: 1000, MaxLine: 500})
	if err != nil {
		t.Fatal(err)
	}
	r := readAll(t, d)
	if want := []string{mailimport.ReasonTooLarge, mailimport.ReasonLongLine, "m"}; !reflect.DeepEqual(r.order, want) {
		t.Fatalf("order %v, want %v", r.order, want)
	}
}

// TestImportMaildir imports the tree into a real store: folders (special
// ones into the account's special-use mailboxes, whatever their names),
// flags, keywords, dates, CRLF bytes; a rerun adds nothing.
func TestImportMaildir(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "alice@example.org", "pw")
	// The user renamed Sent: it stays the \Sent mailbox (RFC 6154).
	if err := st.RenameMailbox(ctx, acct.ID, "Sent", "Gesendet"); err != nil {
		t.Fatal(err)
	}
	sub := st.Subscribe(acct.ID)
	defer sub.Close()
	root := maildirTree(t)
	d, err := mailimport.OpenMaildir(root, mailimport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	im := &mailimport.Importer{Store: st, Account: acct}
	if err := im.Import(ctx, d); err != nil {
		t.Fatal(err)
	}
	s := im.Summary()
	if s.Messages != 7 || s.Skipped[mailimport.ReasonNoHeader] != 1 || s.SkippedTotal() != 1 {
		t.Fatalf("summary %+v", s)
	}
	wantFolders := []string{"Drafts", "Entwürfe", "Gesendet", "Gesendet/2019", "INBOX", "Work/2024"}
	if got := s.FolderNames(); !reflect.DeepEqual(got, wantFolders) {
		t.Fatalf("summary folders %q, want %q", got, wantFolders)
	}
	boxes := map[string]store.Mailbox{}
	mbs, err := st.Mailboxes(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, mb := range mbs {
		boxes[mb.Name] = mb
	}
	for name, n := range map[string]int64{"INBOX": 3, "Gesendet": 1, "Gesendet/2019": 1, "Drafts": 1, "Work/2024": 1, "Entwürfe": 0, "Work": 0} {
		mb, ok := boxes[name]
		if !ok || mb.Messages != n {
			t.Errorf("mailbox %s: %+v (exists %v), want %d messages", name, mb, ok, n)
		}
	}
	if boxes["Gesendet"].SpecialUse != store.SpecialSent {
		t.Errorf("Gesendet lost its special use: %+v", boxes["Gesendet"])
	}
	if _, ok := boxes["Sent"]; ok {
		t.Error("a second Sent mailbox was made")
	}
	inbox := boxes["INBOX"]
	msgs, err := st.List(ctx, acct.ID, inbox.ID, nil, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || !reflect.DeepEqual(msgs[1].Flags, []string{`\Answered`, `\Seen`, "$Label2", "work"}) ||
		!msgs[0].InternalDate.Equal(time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC)) || len(msgs[2].Flags) != 0 {
		t.Fatalf("INBOX messages %+v", msgs)
	}
	rc, err := st.Open(ctx, msgs[0].BlobID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	rc.Close()
	if string(raw) != "Subject: inbox one\r\nFrom: a@example.org\r\n\r\nfirst\r\n" {
		t.Fatalf("stored bytes %q", raw)
	}
	// The change feed heard of the new mail.
	changes, _ := sub.Next()
	news := 0
	for _, c := range changes {
		if c.Kind == store.ChangeNew {
			news += len(c.UIDs)
		}
	}
	if news != 7 {
		t.Errorf("change feed: %d new messages, want 7 (%+v)", news, changes)
	}
	acctNow, _ := st.AccountByID(ctx, acct.ID)
	if acctNow.UsedMessages != 7 {
		t.Errorf("quota usage %d messages", acctNow.UsedMessages)
	}

	// A rerun adds nothing.
	d2, err := mailimport.OpenMaildir(root, mailimport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	im2 := &mailimport.Importer{Store: st, Account: acct}
	if err := im2.Import(ctx, d2); err != nil {
		t.Fatal(err)
	}
	if s := im2.Summary(); s.Messages != 0 || s.Skipped[mailimport.ReasonImported] != 7 {
		t.Fatalf("rerun summary %+v", s)
	}
	if a, _ := st.AccountByID(ctx, acct.ID); a.UsedMessages != 7 {
		t.Fatalf("rerun: %d messages in the account", a.UsedMessages)
	}
}

// Dovecot's LAYOUT=fs: folders are plain subdirectories of a maildir root;
// a directory that only holds a maildir is not a tree of folders.
func TestMaildirFSLayout(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "fs")
	writeFile(t, root, "cur/1.a:2,S", "Subject: top\n\nx\n")
	writeFile(t, root, "Projects/cur/2.a:2,", "Subject: projects\n\nx\n")
	writeFile(t, root, "Projects/Old/new/3.a", "Subject: old\n\nx\n")
	mkdirs(t, root, "Projects/Old/tmp", "Empty")
	d, err := mailimport.OpenMaildir(root, mailimport.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Folders(), []string{"INBOX", "Projects", "Projects/Old"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("folders %q, want %q", got, want)
	}
	if r := readAll(t, d); len(r.msgs) != 3 || r.msgs[2].Mailbox != "Projects/Old" {
		t.Fatalf("read %v", r.order)
	}
	holder := filepath.Join(t.TempDir(), "home")
	writeFile(t, holder, "Maildir/cur/1.a:2,", "Subject: x\n\nx\n")
	if _, err := mailimport.OpenMaildir(holder, mailimport.Limits{}); err == nil {
		t.Fatal("a directory holding a maildir opened as a tree")
	}
}
