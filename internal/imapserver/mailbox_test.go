package imapserver_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"gannet/internal/store/storetest"
)

func TestSelectExamine(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "one"}, storetest.Msg{Subject: "two"}, storetest.Msg{Subject: "three"})
	ctx := t.Context()
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, e.mailbox("INBOX").ID, nil, 1, []string{`\Seen`}, 0); err != nil {
		t.Fatal(err)
	}
	uids := e.deliver("INBOX", storetest.Msg{Subject: "four"})
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, e.mailbox("INBOX").ID, nil, 1, []string{"$Important"}, 0); err != nil {
		t.Fatal(err)
	}
	mb := e.mailbox("INBOX")
	w := e.login()
	lines := w.cmd("a SELECT INBOX")
	want := []string{
		"* 4 EXISTS",
		"* 0 RECENT",
		"* OK [UNSEEN 4] First unseen",
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Important \*)] Flags permitted`,
		"* OK [UIDVALIDITY " + uitoa(mb.UIDValidity) + "] UIDs valid",
		"* OK [UIDNEXT " + uitoa(uids[0]+1) + "] Predicted next UID",
		"* OK [HIGHESTMODSEQ " + u64toa(mb.HighestModSeq) + "] Highest",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("SELECT:\n got %q\nwant %q", lines, want)
	}
	done, _ := w.status("b EXAMINE Sent")
	if done != "b OK [READ-ONLY] EXAMINE completed" {
		t.Errorf("EXAMINE: %q", done)
	}
	if done, _ := w.status("c STORE 1 +FLAGS x"); !strings.HasPrefix(done, "c NO") {
		t.Errorf("STORE in read-only mailbox: %q", done)
	}
	done, _ = w.status("d SELECT Nope")
	if !strings.HasPrefix(done, "d NO [NONEXISTENT]") {
		t.Errorf("SELECT missing: %q", done)
	}
	// A failed SELECT leaves no mailbox selected (RFC 9051 6.3.2).
	if done, _ := w.status("e FETCH 1 FLAGS"); !strings.HasPrefix(done, "e BAD") {
		t.Errorf("FETCH after failed SELECT: %q", done)
	}
	// IMAP4rev2: no RECENT/UNSEEN, a LIST response instead.
	w.cmd("f ENABLE IMAP4rev2")
	lines = w.cmd("g SELECT INBOX")
	if hasPrefix(lines, "* 0 RECENT") || hasPrefix(lines, "* OK [UNSEEN") || !hasLine(lines, `* LIST () "/" INBOX`) {
		t.Errorf("rev2 SELECT: %q", lines)
	}
	lines = w.cmd("h SELECT Sent")
	if !hasPrefix(lines, "* OK [CLOSED]") {
		t.Errorf("rev2 re-SELECT without CLOSED: %q", lines)
	}
}

func TestMailboxLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client(nil)
	for _, name := range []string{"Work", "Work/Projects", "Lists/Go"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
	}
	if err := c.Create("Work", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
		t.Errorf("CREATE existing: %v", err)
	}
	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatalf("RENAME: %v", err)
	}
	if err := c.Delete("Job").Wait(); err == nil || !strings.Contains(err.Error(), "HASCHILDREN") {
		t.Errorf("DELETE with children: %v", err)
	}
	if err := c.Delete("Job/Projects").Wait(); err != nil {
		t.Errorf("DELETE: %v", err)
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Errorf("DELETE INBOX succeeded")
	}
	if err := c.Delete("Nope").Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Errorf("DELETE missing: %v", err)
	}
	if err := c.Subscribe("Lists/Go").Wait(); err != nil {
		t.Fatal(err)
	}
	mbs, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	attrs := map[string][]imap.MailboxAttr{}
	for _, m := range mbs {
		names = append(names, m.Mailbox)
		attrs[m.Mailbox] = m.Attrs
	}
	slices.Sort(names)
	want := []string{"Archive", "Drafts", "INBOX", "Job", "Junk", "Lists", "Lists/Go", "Sent", "Trash"}
	if !slices.Equal(names, want) {
		t.Errorf("LIST * = %q, want %q", names, want)
	}
	if !slices.Contains(attrs["Lists"], imap.MailboxAttrHasChildren) || !slices.Contains(attrs["Job"], imap.MailboxAttrHasNoChildren) {
		t.Errorf("CHILDREN attributes: %v", attrs)
	}
	if !slices.Contains(attrs["Sent"], imap.MailboxAttrSent) || !slices.Contains(attrs["Trash"], imap.MailboxAttrTrash) {
		t.Errorf("SPECIAL-USE attributes: %v", attrs)
	}
	if err := c.Unsubscribe("Lists/Go").Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.login()
	w.cmd("a CREATE Lists/Go/")
	w.cmd("b CREATE Lists/Rust")
	w.cmd("c SUBSCRIBE Lists/Go")
	w.cmd("d SUBSCRIBE Gone")
	w.cmd(`e CREATE "Caf&AOk-"`)
	tests := []struct {
		cmd  string
		want []string
	}{
		{`LIST "" ""`, []string{`* LIST (\Noselect) "/" ""`}},
		{`LIST "" %`, nil},
		{`LIST "" Lists/%`, []string{`* LIST (\HasNoChildren) "/" Lists/Go`, `* LIST (\HasNoChildren) "/" Lists/Rust`}},
		{`LIST Lists %`, []string{`* LIST (\HasNoChildren) "/" Lists/Go`, `* LIST (\HasNoChildren) "/" Lists/Rust`}},
		{`LIST "" inbox`, []string{`* LIST (\HasNoChildren) "/" INBOX`}},
		{`LIST "" Caf*`, []string{`* LIST (\HasNoChildren) "/" Caf&AOk-`}},
		{`LIST (SUBSCRIBED) "" (L* G*)`, []string{`* LIST (\HasNoChildren \Subscribed) "/" Lists/Go`, `* LIST (\NonExistent \Subscribed) "/" Gone`}},
		{`LIST (SUBSCRIBED RECURSIVEMATCH) "" (L% G%)`, []string{`* LIST (\NonExistent \Subscribed) "/" Gone`, `* LIST (\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))`}},
		{`LIST (SPECIAL-USE) "" *`, []string{`* LIST (\HasNoChildren \Archive) "/" Archive`, `* LIST (\HasNoChildren \Drafts) "/" Drafts`,
			`* LIST (\HasNoChildren \Junk) "/" Junk`, `* LIST (\HasNoChildren \Sent) "/" Sent`, `* LIST (\HasNoChildren \Trash) "/" Trash`}},
		{`LIST "" (INBOX Lists) RETURN (SUBSCRIBED CHILDREN STATUS (MESSAGES UNSEEN))`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`, `* STATUS INBOX (MESSAGES 0 UNSEEN 0)`,
			`* LIST (\HasChildren) "/" Lists`, `* STATUS Lists (MESSAGES 0 UNSEEN 0)`}},
		{`LSUB "" L*`, []string{`* LSUB () "/" Lists/Go`}},
		{`LSUB "" %`, []string{`* LSUB () "/" Archive`, `* LSUB () "/" Drafts`, `* LSUB () "/" INBOX`,
			`* LSUB () "/" Junk`, `* LSUB () "/" Sent`, `* LSUB () "/" Trash`, `* LSUB () "/" Gone`}},
	}
	for i, tc := range tests {
		got := w.cmd("t" + itoa(i) + " " + tc.cmd)
		if tc.want == nil {
			if len(got) < 8 || hasPrefix(got, `* LIST (\HasNoChildren) "/" Lists/`) {
				t.Errorf("%s = %q", tc.cmd, got)
			}
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s:\n got %q\nwant %q", tc.cmd, got, tc.want)
		}
	}
	// UTF-8 names once UTF8=ACCEPT is enabled (RFC 6855 3).
	w.cmd("u ENABLE UTF8=ACCEPT")
	if got := w.cmd(`v LIST "" Caf*`); !slices.Equal(got, []string{`* LIST (\HasNoChildren) "/" "Café"`}) {
		t.Errorf("UTF-8 LIST = %q", got)
	}
	w.cmd(`w CREATE "日本語"`)
	if mb := e.mailbox("日本語"); mb.Name != "日本語" {
		t.Errorf("UTF-8 CREATE made %q", mb.Name)
	}
	if done, _ := w.status(`x LIST (BOGUS) "" *`); !strings.HasPrefix(done, "x BAD") {
		t.Errorf("unknown selection option: %q", done)
	}
	if done, _ := w.status(`y LIST (RECURSIVEMATCH) "" *`); !strings.HasPrefix(done, "y BAD") {
		t.Errorf("RECURSIVEMATCH alone: %q", done)
	}
}

func TestModifiedUTF7Names(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.login()
	w.cmd(`a CREATE "&ZeVnLIqe-/Sub"`)
	if mb := e.mailbox("日本語/Sub"); mb == nil {
		t.Fatal("not created")
	}
	if got := w.cmd(`b LIST "" "&ZeVnLIqe-*"`); !slices.Equal(got, []string{
		`* LIST (\HasChildren) "/" &ZeVnLIqe-`, `* LIST (\HasNoChildren) "/" &ZeVnLIqe-/Sub`}) {
		t.Errorf("LIST = %q", got)
	}
	// Non-canonical modified UTF-7 is refused (NO: not bad protocol, a
	// name no mailbox can have; compliance_test.go).
	if done, _ := w.status(`c CREATE "&AGEAYgBj-"`); !strings.HasPrefix(done, "c NO [CANNOT]") {
		t.Errorf("non-canonical UTF-7: %q", done)
	}
	w.cmd(`d SELECT "&ZeVnLIqe-/Sub"`)
	w.cmd(`e RENAME "&ZeVnLIqe-" Plain`)
	if got := w.cmd(`f LIST "" Plain*`); len(got) != 2 {
		t.Errorf("after RENAME: %q", got)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	mb := e.mailbox("INBOX")
	w := e.login()
	got := w.cmd("a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ RECENT)")
	want := "* STATUS INBOX (MESSAGES 2 UIDNEXT " + uitoa(mb.UIDNext) + " UIDVALIDITY " + uitoa(mb.UIDValidity) +
		" UNSEEN 2 DELETED 0 SIZE " + itoa(int(mb.Size)) + " HIGHESTMODSEQ " + u64toa(mb.HighestModSeq) + " RECENT 0)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("STATUS:\n got %q\nwant %q", got, want)
	}
	if done, _ := w.status("b STATUS Nope (MESSAGES)"); !strings.HasPrefix(done, "b NO [NONEXISTENT]") {
		t.Errorf("STATUS missing: %q", done)
	}
	if done, _ := w.status("c STATUS INBOX ()"); !strings.HasPrefix(done, "c BAD") {
		t.Errorf("STATUS without items: %q", done)
	}
}

func TestCloseUnselectCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	w.cmd("b CHECK")
	w.cmd(`c STORE 1 +FLAGS.SILENT (\Deleted)`)
	w.cmd("d UNSELECT")
	if n := e.mailbox("INBOX").Messages; n != 3 {
		t.Errorf("UNSELECT expunged: %d messages", n)
	}
	w.cmd("e EXAMINE INBOX")
	if got := w.cmd("f CLOSE"); len(got) != 0 {
		t.Errorf("CLOSE sent %q", got)
	}
	if n := e.mailbox("INBOX").Messages; n != 3 {
		t.Errorf("CLOSE of EXAMINE expunged: %d messages", n)
	}
	w.cmd("g SELECT INBOX")
	if got := w.cmd("h CLOSE"); len(got) != 0 {
		t.Errorf("CLOSE sent %q (must be silent)", got)
	}
	if n := e.mailbox("INBOX").Messages; n != 2 {
		t.Errorf("after CLOSE: %d messages, want 2", n)
	}
	if done, _ := w.status("i CLOSE"); !strings.HasPrefix(done, "i BAD") {
		t.Errorf("CLOSE when not selected: %q", done)
	}
}

func TestQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a", Body: strings.Repeat("x", 3000)})
	w := e.login()
	if got := w.cmd("a GETQUOTAROOT INBOX"); !slices.Equal(got, []string{`* QUOTAROOT INBOX ""`, `* QUOTA "" ()`}) {
		t.Errorf("unlimited GETQUOTAROOT = %q", got)
	}
	if err := e.st.SetQuota(t.Context(), testUser, 10<<10, 5); err != nil {
		t.Fatal(err)
	}
	acct, _ := e.st.AccountByID(t.Context(), e.acct.ID)
	kib := (acct.UsedBytes + 1023) / 1024
	want := `* QUOTA "" (STORAGE ` + itoa(int(kib)) + ` 10 MESSAGE 1 5)`
	if got := w.cmd(`b GETQUOTA ""`); !slices.Equal(got, []string{want}) {
		t.Errorf("GETQUOTA = %q, want %q", got, want)
	}
	if done, _ := w.status(`c GETQUOTA "other"`); !strings.HasPrefix(done, "c NO") {
		t.Errorf("GETQUOTA other root: %q", done)
	}
	if done, _ := w.status(`d SETQUOTA "" (STORAGE 512)`); !strings.HasPrefix(done, "d NO [NOPERM]") {
		t.Errorf("SETQUOTA: %q", done)
	}
	// APPEND over quota is refused before the data is sent (RFC 9208 4.3).
	w.send("e APPEND INBOX {20000}")
	if _, done := w.until("e"); !strings.HasPrefix(done, "e NO [OVERQUOTA]") {
		t.Errorf("APPEND over quota: %q", done)
	}
	w.cmd("f NOOP")
}
