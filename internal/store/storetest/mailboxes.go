package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

func mailboxTests() []subtest {
	return []subtest{
		{"Create", testMailboxCreate},
		{"InvalidNames", testMailboxInvalidNames},
		{"SpecialUse", testMailboxSpecialUse},
		{"Rename", testMailboxRename},
		{"RenamePrefix", testMailboxRenamePrefix},
		{"RenameErrors", testMailboxRenameErrors},
		{"Delete", testMailboxDelete},
		{"RecreateNewUIDValidity", testMailboxRecreate},
		{"Subscriptions", testMailboxSubscriptions},
		{"Counts", testMailboxCounts},
		{"Isolation", testMailboxIsolation},
	}
}

func mailboxNames(t *testing.T, s store.Store, accountID int64) []string {
	t.Helper()
	mbs, err := s.Mailboxes(t.Context(), accountID)
	noErr(t, "Mailboxes", err)
	var names []string
	for _, mb := range mbs {
		names = append(names, mb.Name)
	}
	return names
}

func testMailboxCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	ms0 := acctModSeq(t, s, a.ID)
	c, err := s.CreateMailbox(ctx, a.ID, "a/b/c", "")
	noErr(t, "CreateMailbox a/b/c", err)
	if c.ID == 0 || c.AccountID != a.ID || c.Name != "a/b/c" || c.UIDValidity == 0 || c.UIDNext == 0 || c.SpecialUse != "" || c.Messages != 0 {
		t.Errorf("CreateMailbox returned %+v", c)
	}
	got := mbox(t, s, a.ID, "a/b/c")
	if got.ID != c.ID || got.UIDValidity != c.UIDValidity || got.UIDNext != c.UIDNext {
		t.Errorf("Mailbox(a/b/c) = %+v, want the created %+v", got, c)
	}
	if byID := mboxByID(t, s, a.ID, c.ID); byID.Name != "a/b/c" {
		t.Errorf("MailboxByID = %q, want a/b/c", byID.Name)
	}
	for _, parent := range []string{"a", "a/b"} {
		if _, err := s.Mailbox(ctx, a.ID, parent); err != nil {
			t.Errorf("parent %q not created by CreateMailbox(a/b/c): %v", parent, err)
		}
	}
	if ms := acctModSeq(t, s, a.ID); ms <= ms0 {
		t.Errorf("account ModSeq %d → %d: not bumped by CreateMailbox", ms0, ms)
	}

	createMbox(t, s, a.ID, "Zeta")
	createMbox(t, s, a.ID, "Reçus/Été 2024") // UTF-8 names round-trip
	createMbox(t, s, a.ID, "a/b2")
	names := mailboxNames(t, s, a.ID)
	if !slices.IsSorted(names) {
		t.Errorf("Mailboxes not sorted by name: %q", names)
	}
	want := []string{"Archive", "Drafts", "INBOX", "Junk", "Reçus", "Reçus/Été 2024", "Sent", "Trash", "Zeta", "a", "a/b", "a/b/c", "a/b2"}
	if s := slices.Sorted(slices.Values(names)); !slices.Equal(s, want) {
		t.Errorf("Mailboxes = %q, want %q", s, want)
	}

	for _, dup := range []string{"a/b/c", "a", "a/b", "Zeta", "Sent"} {
		_, err := s.CreateMailbox(ctx, a.ID, dup, "")
		wantErr(t, "CreateMailbox existing "+dup, err, store.ErrExists)
	}
	// Creating a child of an existing mailbox works and creates no duplicates.
	createMbox(t, s, a.ID, "a/b/c/d")
	if n := len(mailboxNames(t, s, a.ID)); n != len(want)+1 {
		t.Errorf("after a/b/c/d: %d mailboxes, want %d", n, len(want)+1)
	}
	// INBOX is case-insensitive (RFC 9051 5.1).
	if mb, err := s.Mailbox(ctx, a.ID, "inbox"); err != nil || mb.Name != "INBOX" {
		t.Errorf("Mailbox(\"inbox\") = %v, %v; want INBOX", mb, err)
	}
	_, err = s.Mailbox(ctx, a.ID, "nope")
	wantErr(t, "Mailbox unknown", err, store.ErrNotFound)
	_, err = s.MailboxByID(ctx, a.ID, c.ID+1000)
	wantErr(t, "MailboxByID unknown", err, store.ErrNotFound)
}

func testMailboxInvalidNames(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	before := mailboxNames(t, s, a.ID)
	for _, bad := range []string{"", "/", "/a", "a/", "a//b", "a/b/", "a\x00b", "bad\xffutf8"} {
		_, err := s.CreateMailbox(ctx, a.ID, bad, "")
		wantErr(t, "CreateMailbox "+strconvQuote(bad), err, store.ErrInvalidName)
	}
	for _, inbox := range []string{"INBOX", "inbox", "Inbox", "iNbOx"} {
		_, err := s.CreateMailbox(ctx, a.ID, inbox, "")
		if !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("CreateMailbox(%q) = %v, want ErrExists or ErrInvalidName", inbox, err)
		}
	}
	if after := mailboxNames(t, s, a.ID); !slices.Equal(before, after) {
		t.Errorf("refused creates changed the mailboxes: %q → %q", before, after)
	}
}

func strconvQuote(s string) string { return "\"" + s + "\"" }

func testMailboxSpecialUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	mb, err := s.CreateMailbox(ctx, a.ID, "Old/Sent 2023", store.SpecialArchive)
	noErr(t, "CreateMailbox with special use", err)
	if mb.SpecialUse != store.SpecialArchive {
		t.Errorf("CreateMailbox returned SpecialUse %q", mb.SpecialUse)
	}
	if got := mbox(t, s, a.ID, "Old/Sent 2023").SpecialUse; got != store.SpecialArchive {
		t.Errorf("SpecialUse = %q, want %q", got, store.SpecialArchive)
	}
	if got := mbox(t, s, a.ID, "Old").SpecialUse; got != "" {
		t.Errorf("implicitly created parent has SpecialUse %q", got)
	}
	if _, err := s.CreateMailbox(ctx, a.ID, "Bogus", `\Bogus`); err == nil {
		t.Errorf("CreateMailbox with special use \\Bogus succeeded (RFC 6154 5.3: USEATTR)")
	}
}

func testMailboxRename(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	mbA := createMbox(t, s, a.ID, "a")
	mbB := createMbox(t, s, a.ID, "a/b")
	mbC := createMbox(t, s, a.ID, "a/b/c")
	uidsA := appendN(t, s, a.ID, mbA.ID, "in-a", 3)
	uidsB := appendN(t, s, a.ID, mbB.ID, "in-b", 2)
	// Expunge one so UIDNEXT is not simply count+1.
	_, err := s.ExpungeUIDs(ctx, a.ID, mbA.ID, []uint32{uidsA[2]})
	noErr(t, "ExpungeUIDs", err)
	beforeA := mbox(t, s, a.ID, "a")
	msgsA := list(t, s, a.ID, mbA.ID, nil)
	msgsB := list(t, s, a.ID, mbB.ID, nil)
	ms0 := acctModSeq(t, s, a.ID)

	noErr(t, "RenameMailbox a → x", s.RenameMailbox(ctx, a.ID, "a", "x"))
	if ms := acctModSeq(t, s, a.ID); ms <= ms0 {
		t.Errorf("account ModSeq %d → %d: not bumped by RenameMailbox", ms0, ms)
	}
	for _, old := range []string{"a", "a/b", "a/b/c"} {
		_, err := s.Mailbox(ctx, a.ID, old)
		wantErr(t, "Mailbox("+old+") after rename", err, store.ErrNotFound)
	}
	x := mbox(t, s, a.ID, "x")
	if x.UIDValidity != beforeA.UIDValidity || x.UIDNext != beforeA.UIDNext || x.Messages != 2 {
		t.Errorf("renamed x = UIDVALIDITY %d UIDNEXT %d %d messages, want %d %d 2",
			x.UIDValidity, x.UIDNext, x.Messages, beforeA.UIDValidity, beforeA.UIDNext)
	}
	got := list(t, s, a.ID, x.ID, nil)
	wantUIDs(t, "UIDs in renamed x", uidsOf(got), uidsA[:2])
	for i := range got {
		if i < len(msgsA) && got[i].BlobID != msgsA[i].BlobID {
			t.Errorf("renamed x message %d blob %q, want %q", got[i].UID, got[i].BlobID, msgsA[i].BlobID)
		}
	}
	xb := mbox(t, s, a.ID, "x/b")
	if xb.UIDValidity != mbB.UIDValidity {
		t.Errorf("child x/b UIDVALIDITY %d, want %d", xb.UIDValidity, mbB.UIDValidity)
	}
	wantUIDs(t, "UIDs in renamed child x/b", uidsOf(list(t, s, a.ID, xb.ID, nil)), uidsB)
	if len(msgsB) != 2 {
		t.Errorf("a/b had %d messages before rename", len(msgsB))
	}
	if xbc := mbox(t, s, a.ID, "x/b/c"); xbc.UIDValidity != mbC.UIDValidity {
		t.Errorf("grandchild x/b/c UIDVALIDITY %d, want %d", xbc.UIDValidity, mbC.UIDValidity)
	}
	// A message appended after rename continues the UID sequence.
	u := appendMsg(t, s, a.ID, x.ID, Msg{Subject: "after rename"}.Bytes(), nil, time.Time{})
	if u != beforeA.UIDNext {
		t.Errorf("first UID after rename = %d, want the old UIDNEXT %d", u, beforeA.UIDNext)
	}

	// Rename a child to the top level; its children follow.
	noErr(t, "RenameMailbox x/b → y", s.RenameMailbox(ctx, a.ID, "x/b", "y"))
	if _, err := s.Mailbox(ctx, a.ID, "y/c"); err != nil {
		t.Errorf("y/c after renaming x/b → y: %v", err)
	}
	if _, err := s.Mailbox(ctx, a.ID, "x"); err != nil {
		t.Errorf("x disappeared when its child was renamed: %v", err)
	}
	// Renaming into a hierarchy that does not exist creates the parents (RFC 9051 6.3.6).
	noErr(t, "RenameMailbox y → p/q/y", s.RenameMailbox(ctx, a.ID, "y", "p/q/y"))
	for _, n := range []string{"p", "p/q", "p/q/y", "p/q/y/c"} {
		if _, err := s.Mailbox(ctx, a.ID, n); err != nil {
			t.Errorf("Mailbox(%q) after rename y → p/q/y: %v", n, err)
		}
	}
	names := mailboxNames(t, s, a.ID)
	if !slices.IsSorted(names) {
		t.Errorf("Mailboxes not sorted after renames: %q", names)
	}
	want := []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash", "p", "p/q", "p/q/y", "p/q/y/c", "x"}
	if !slices.Equal(slices.Sorted(slices.Values(names)), want) {
		t.Errorf("Mailboxes after renames = %q, want %q", names, want)
	}
}

// testMailboxRenamePrefix: renaming "a_" must not touch "ab" or "a%" (a LIKE
// pattern without escaping would), nor "a_x" (a prefix match without the separator).
func testMailboxRenamePrefix(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	for _, n := range []string{"a_/c", "ab/c", "a%/c", "a_x"} {
		createMbox(t, s, a.ID, n)
	}
	noErr(t, "RenameMailbox a_ → z", s.RenameMailbox(ctx, a.ID, "a_", "z"))
	want := []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash", "a%", "a%/c", "a_x", "ab", "ab/c", "z", "z/c"}
	if got := slices.Sorted(slices.Values(mailboxNames(t, s, a.ID))); !slices.Equal(got, want) {
		t.Errorf("after rename a_ → z: %q, want %q", got, want)
	}
	noErr(t, "RenameMailbox a% → q", s.RenameMailbox(ctx, a.ID, "a%", "q"))
	want = []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash", "a_x", "ab", "ab/c", "q", "q/c", "z", "z/c"}
	if got := slices.Sorted(slices.Values(mailboxNames(t, s, a.ID))); !slices.Equal(got, want) {
		t.Errorf("after rename a%% → q: %q, want %q", got, want)
	}
	// Deleting works on the exact name too: "ab" has a child, "a_x" has none.
	wantErr(t, "DeleteMailbox ab", s.DeleteMailbox(ctx, a.ID, "ab"), store.ErrHasChildren)
	noErr(t, "DeleteMailbox a_x", s.DeleteMailbox(ctx, a.ID, "a_x"))
}

func testMailboxRenameErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	createMbox(t, s, a.ID, "Work")
	createMbox(t, s, a.ID, "Play/Games")
	before := mailboxNames(t, s, a.ID)
	wantErr(t, "Rename onto existing", s.RenameMailbox(ctx, a.ID, "Work", "Sent"), store.ErrExists)
	wantErr(t, "Rename onto existing parent", s.RenameMailbox(ctx, a.ID, "Work", "Play"), store.ErrExists)
	wantErr(t, "Rename onto existing child", s.RenameMailbox(ctx, a.ID, "Work", "Play/Games"), store.ErrExists)
	wantErr(t, "Rename unknown", s.RenameMailbox(ctx, a.ID, "Nope", "Nope2"), store.ErrNotFound)
	for _, bad := range []string{"", "/x", "x/", "x//y", "x\x00"} {
		wantErr(t, "Rename to "+strconvQuote(bad), s.RenameMailbox(ctx, a.ID, "Work", bad), store.ErrInvalidName)
	}
	for _, inbox := range []string{"INBOX", "inbox"} {
		err := s.RenameMailbox(ctx, a.ID, "Work", inbox)
		if !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrInvalidName) {
			t.Errorf("Rename Work → %q = %v, want ErrExists or ErrInvalidName", inbox, err)
		}
	}
	if err := s.RenameMailbox(ctx, a.ID, "Play", "Play/Games/Play"); err == nil {
		t.Errorf("renaming a mailbox into its own child succeeded")
	}
	if after := mailboxNames(t, s, a.ID); !slices.Equal(before, after) {
		t.Errorf("refused renames changed the mailboxes: %q → %q", before, after)
	}
	// Renaming INBOX either is refused or moves its messages (RFC 9051 6.3.6);
	// INBOX exists afterwards either way.
	inbox := mbox(t, s, a.ID, "INBOX")
	appendN(t, s, a.ID, inbox.ID, "inbox", 2)
	if err := s.RenameMailbox(ctx, a.ID, "INBOX", "Old Inbox"); err == nil {
		in := mbox(t, s, a.ID, "INBOX")
		old := mbox(t, s, a.ID, "Old Inbox")
		if in.Messages != 0 || old.Messages != 2 {
			t.Errorf("after RENAME INBOX: INBOX has %d messages, Old Inbox %d; want 0 and 2", in.Messages, old.Messages)
		}
	} else if _, err := s.Mailbox(ctx, a.ID, "INBOX"); err != nil {
		t.Errorf("INBOX gone after refused rename: %v", err)
	}
}

func testMailboxDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	createMbox(t, s, a.ID, "a/b")
	b := mbox(t, s, a.ID, "a/b")
	appendN(t, s, a.ID, b.ID, "doomed", 3)

	wantErr(t, "DeleteMailbox with children", s.DeleteMailbox(ctx, a.ID, "a"), store.ErrHasChildren)
	wantErr(t, "DeleteMailbox INBOX", s.DeleteMailbox(ctx, a.ID, "INBOX"), store.ErrNotPermitted)
	wantErr(t, "DeleteMailbox inbox", s.DeleteMailbox(ctx, a.ID, "inbox"), store.ErrNotPermitted)
	wantErr(t, "DeleteMailbox unknown", s.DeleteMailbox(ctx, a.ID, "nope"), store.ErrNotFound)
	if _, err := s.Mailbox(ctx, a.ID, "a"); err != nil {
		t.Fatalf("refused delete removed a: %v", err)
	}
	used := accountByID(t, s, a.ID)
	if used.UsedMessages != 3 {
		t.Errorf("UsedMessages = %d, want 3", used.UsedMessages)
	}
	ms0 := acctModSeq(t, s, a.ID)
	noErr(t, "DeleteMailbox a/b", s.DeleteMailbox(ctx, a.ID, "a/b"))
	if ms := acctModSeq(t, s, a.ID); ms <= ms0 {
		t.Errorf("account ModSeq %d → %d: not bumped by DeleteMailbox", ms0, ms)
	}
	_, err := s.Mailbox(ctx, a.ID, "a/b")
	wantErr(t, "Mailbox after delete", err, store.ErrNotFound)
	_, err = s.MailboxByID(ctx, a.ID, b.ID)
	wantErr(t, "MailboxByID after delete", err, store.ErrNotFound)
	if msgs, err := s.List(ctx, a.ID, b.ID, nil, store.ListOptions{}); err == nil && len(msgs) != 0 {
		t.Errorf("List of a deleted mailbox returned %d messages", len(msgs))
	}
	after := accountByID(t, s, a.ID)
	if after.UsedMessages != 0 || after.UsedBytes != 0 {
		t.Errorf("after deleting the only mailbox with messages Used = %d messages %d bytes, want 0 0",
			after.UsedMessages, after.UsedBytes)
	}
	noErr(t, "DeleteMailbox a (now childless)", s.DeleteMailbox(ctx, a.ID, "a"))
	// Special-use mailboxes other than INBOX may be deleted.
	noErr(t, "DeleteMailbox Junk", s.DeleteMailbox(ctx, a.ID, "Junk"))
	want := []string{"Archive", "Drafts", "INBOX", "Sent", "Trash"}
	if got := slices.Sorted(slices.Values(mailboxNames(t, s, a.ID))); !slices.Equal(got, want) {
		t.Errorf("Mailboxes = %q, want %q", got, want)
	}
}

func testMailboxRecreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	first := createMbox(t, s, a.ID, "Project")
	appendN(t, s, a.ID, first.ID, "old", 2)
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, a.ID, "Project"))
	second := createMbox(t, s, a.ID, "Project")
	if second.UIDValidity == first.UIDValidity {
		t.Errorf("re-created mailbox has the same UIDVALIDITY %d (RFC 9051 2.3.1.1)", first.UIDValidity)
	}
	if got := mbox(t, s, a.ID, "Project"); got.Messages != 0 || got.UIDValidity != second.UIDValidity {
		t.Errorf("re-created mailbox = %d messages UIDVALIDITY %d, want 0 and %d", got.Messages, got.UIDValidity, second.UIDValidity)
	}
	if n := len(list(t, s, a.ID, second.ID, nil)); n != 0 {
		t.Errorf("re-created mailbox lists %d old messages", n)
	}
	// Same for a rename away and back.
	noErr(t, "RenameMailbox", s.RenameMailbox(ctx, a.ID, "Project", "Elsewhere"))
	third := createMbox(t, s, a.ID, "Project")
	if third.UIDValidity == second.UIDValidity {
		t.Errorf("mailbox created under a renamed-away name reuses UIDVALIDITY %d", second.UIDValidity)
	}
}

func testMailboxSubscriptions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	createMbox(t, s, a.ID, "Work")
	createMbox(t, s, a.ID, "Lists/go-nuts")
	createMbox(t, s, b.ID, "Work")
	// Whether new mailboxes start subscribed is the backend's choice; start from
	// a known state.
	noErr(t, "Unsubscribe Work", s.SubscribeMailbox(ctx, a.ID, "Work", false))
	noErr(t, "Unsubscribe Lists/go-nuts", s.SubscribeMailbox(ctx, a.ID, "Lists/go-nuts", false))
	base, err := s.Subscriptions(ctx, a.ID)
	noErr(t, "Subscriptions", err)
	if slices.Contains(base, "Work") || slices.Contains(base, "Lists/go-nuts") {
		t.Fatalf("Subscriptions after unsubscribe = %q, contains Work or Lists/go-nuts", base)
	}

	noErr(t, "Subscribe Work", s.SubscribeMailbox(ctx, a.ID, "Work", true))
	noErr(t, "Subscribe Lists/go-nuts", s.SubscribeMailbox(ctx, a.ID, "Lists/go-nuts", true))
	subs, err := s.Subscriptions(ctx, a.ID)
	noErr(t, "Subscriptions", err)
	if !slices.Contains(subs, "Work") || !slices.Contains(subs, "Lists/go-nuts") || len(subs) != len(base)+2 {
		t.Errorf("Subscriptions = %q, want %q + Work, Lists/go-nuts", subs, base)
	}
	if !mbox(t, s, a.ID, "Work").Subscribed {
		t.Errorf("Mailbox(Work).Subscribed = false after subscribe")
	}
	// Idempotent.
	noErr(t, "Subscribe Work again", s.SubscribeMailbox(ctx, a.ID, "Work", true))
	if again, _ := s.Subscriptions(ctx, a.ID); len(again) != len(subs) {
		t.Errorf("subscribing twice changed Subscriptions: %q → %q", subs, again)
	}
	// Per account.
	noErr(t, "bob Unsubscribe Work", s.SubscribeMailbox(ctx, b.ID, "Work", false))
	if bs, _ := s.Subscriptions(ctx, b.ID); slices.Contains(bs, "Work") || slices.Contains(bs, "Lists/go-nuts") {
		t.Errorf("bob's Subscriptions = %q, contain alice's", bs)
	}

	noErr(t, "Unsubscribe Work", s.SubscribeMailbox(ctx, a.ID, "Work", false))
	subs, _ = s.Subscriptions(ctx, a.ID)
	if slices.Contains(subs, "Work") || !slices.Contains(subs, "Lists/go-nuts") {
		t.Errorf("Subscriptions after unsubscribe = %q", subs)
	}
	if mbox(t, s, a.ID, "Work").Subscribed {
		t.Errorf("Mailbox(Work).Subscribed = true after unsubscribe")
	}
	mbs, _ := s.Mailboxes(ctx, a.ID)
	for _, mb := range mbs {
		if mb.Subscribed != slices.Contains(subs, mb.Name) {
			t.Errorf("Mailboxes: %s Subscribed = %v, Subscriptions = %q", mb.Name, mb.Subscribed, subs)
		}
	}
}

func testMailboxCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	raws := [][]byte{
		Msg{Subject: "one", Body: "short\n"}.Bytes(),
		Msg{Subject: "two", Body: "a somewhat longer body\nover two lines\n"}.Bytes(),
		Msg{Subject: "three", Body: "third\n"}.Bytes(),
		Msg{Subject: "four", Body: "fourth\n"}.Bytes(),
	}
	flags := [][]string{{store.FlagSeen}, nil, {store.FlagDeleted}, {store.FlagSeen, store.FlagDeleted, "$label1"}}
	var size int64
	for i, raw := range raws {
		appendMsg(t, s, a.ID, inbox.ID, raw, flags[i], time.Time{})
		size += int64(len(raw))
	}
	check := func(what string, mb *store.Mailbox, n, unseen, deleted, size int64) {
		t.Helper()
		if mb.Messages != n || mb.Unseen != unseen || mb.Deleted != deleted || mb.Size != size {
			t.Errorf("%s counts = messages %d unseen %d deleted %d size %d, want %d %d %d %d",
				what, mb.Messages, mb.Unseen, mb.Deleted, mb.Size, n, unseen, deleted, size)
		}
	}
	check("Mailbox", mbox(t, s, a.ID, "INBOX"), 4, 2, 2, size)
	check("MailboxByID", mboxByID(t, s, a.ID, inbox.ID), 4, 2, 2, size)
	mbs, err := s.Mailboxes(ctx, a.ID)
	noErr(t, "Mailboxes", err)
	for i := range mbs {
		if mbs[i].Name == "INBOX" {
			check("Mailboxes[INBOX]", &mbs[i], 4, 2, 2, size)
		} else {
			check("Mailboxes["+mbs[i].Name+"]", &mbs[i], 0, 0, 0, 0)
		}
	}
	// Counts follow flag changes and expunge.
	_, err = s.StoreFlags(ctx, a.ID, inbox.ID, nil, store.FlagsAdd, []string{store.FlagSeen}, 0)
	noErr(t, "StoreFlags", err)
	check("after +\\Seen", mbox(t, s, a.ID, "INBOX"), 4, 0, 2, size)
	_, err = s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge", err)
	want := int64(len(raws[0]) + len(raws[1]))
	check("after expunge", mbox(t, s, a.ID, "INBOX"), 2, 0, 0, want)
	acc := accountByID(t, s, a.ID)
	if acc.UsedMessages != 2 || acc.UsedBytes != want {
		t.Errorf("account Used = %d messages %d bytes, want 2 %d", acc.UsedMessages, acc.UsedBytes, want)
	}
}

// testMailboxIsolation: an account cannot reach another account's mailboxes by ID.
func testMailboxIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	bInbox := mbox(t, s, b.ID, "INBOX")
	aInbox := mbox(t, s, a.ID, "INBOX")
	uid := appendMsg(t, s, b.ID, bInbox.ID, Msg{Subject: "private"}.Bytes(), nil, time.Time{})
	aUID := appendMsg(t, s, a.ID, aInbox.ID, Msg{Subject: "alice's"}.Bytes(), nil, time.Time{})

	_, err := s.MailboxByID(ctx, a.ID, bInbox.ID)
	wantErr(t, "MailboxByID of another account", err, store.ErrNotFound)
	_, err = s.List(ctx, a.ID, bInbox.ID, nil, store.ListOptions{})
	wantErr(t, "List another account's mailbox", err, store.ErrNotFound)
	_, err = s.StoreFlags(ctx, a.ID, bInbox.ID, nil, store.FlagsAdd, []string{store.FlagDeleted}, 0)
	wantErr(t, "StoreFlags in another account's mailbox", err, store.ErrNotFound)
	_, err = s.Append(ctx, a.ID, bInbox.ID, Msg{Subject: "spoof"}.Bytes(), nil, time.Time{})
	wantErr(t, "Append to another account's mailbox", err, store.ErrNotFound)
	_, err = s.Copy(ctx, a.ID, aInbox.ID, set(aUID), bInbox.ID)
	wantErr(t, "Copy into another account's mailbox", err, store.ErrNotFound)
	_, err = s.Move(ctx, a.ID, bInbox.ID, set(uid), aInbox.ID)
	wantErr(t, "Move out of another account's mailbox", err, store.ErrNotFound)
	_, err = s.ExpungeUIDs(ctx, a.ID, bInbox.ID, []uint32{uid})
	wantErr(t, "ExpungeUIDs in another account's mailbox", err, store.ErrNotFound)
	_, err = s.Search(ctx, a.ID, bInbox.ID, store.Criteria{})
	wantErr(t, "Search another account's mailbox", err, store.ErrNotFound)
	_, err = s.Changes(ctx, a.ID, bInbox.ID, 0)
	wantErr(t, "Changes of another account's mailbox", err, store.ErrNotFound)

	m := one(t, s, b.ID, bInbox.ID, uid)
	if len(m.Flags) != 0 {
		t.Errorf("bob's message flags changed to %q by alice", m.Flags)
	}
	if n := mbox(t, s, b.ID, "INBOX").Messages; n != 1 {
		t.Errorf("bob's INBOX has %d messages, want 1", n)
	}
	if n := mbox(t, s, a.ID, "INBOX").Messages; n != 1 {
		t.Errorf("alice's INBOX has %d messages, want 1", n)
	}
}
