package storetest

import (
	"slices"
	"testing"

	"gannet/internal/store"
)

// revokeTests cover what ends sessions (issue 13, finding 1): ids that are
// never reused, disabled accounts, and the AuthChanges revocation feed.
func revokeTests() []subtest {
	return []subtest{
		{"AccountIDNeverReused", testAccountIDNeverReused},
		{"MailboxIDNeverReused", testMailboxIDNeverReused},
		{"Disable", testAccountDisable},
		{"AuthChanges", testAuthChanges},
	}
}

// testAccountIDNeverReused: create, delete the highest id, create again: a
// new id. A reused id let an old session read the new account's mail.
func testAccountIDNeverReused(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "a@example.org")
	b := account(t, s, "b@example.org")
	high := max(a.ID, b.ID)
	highAddr := map[bool]string{true: "a@example.org", false: "b@example.org"}[a.ID > b.ID]
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, highAddr))
	c := account(t, s, "c@example.org")
	if c.ID <= high {
		t.Fatalf("account created after deleting id %d got id %d: ids must never be reused", high, c.ID)
	}
	// The same address again is a new account too.
	d := account(t, s, highAddr)
	if d.ID == a.ID || d.ID == b.ID || d.ID <= c.ID {
		t.Fatalf("%s created again got id %d (ids so far %d, %d, %d)", highAddr, d.ID, a.ID, b.ID, c.ID)
	}
	if _, err := s.AccountByID(ctx, high); err == nil {
		t.Fatalf("deleted account id %d still names an account", high)
	}
}

// testMailboxIDNeverReused: deleting the newest mailbox (or a whole account)
// never lets a later mailbox take its id.
func testMailboxIDNeverReused(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "a@example.org")
	x := createMbox(t, s, a.ID, "X")
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, a.ID, "X"))
	y := createMbox(t, s, a.ID, "Y")
	if y.ID <= x.ID {
		t.Fatalf("mailbox created after deleting id %d got id %d", x.ID, y.ID)
	}
	seen := y.ID
	mbs, err := s.Mailboxes(ctx, a.ID)
	noErr(t, "Mailboxes", err)
	for _, m := range mbs {
		seen = max(seen, m.ID)
	}
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, "a@example.org"))
	b := account(t, s, "b@example.org")
	mbs, err = s.Mailboxes(ctx, b.ID)
	noErr(t, "Mailboxes", err)
	for _, m := range mbs {
		if m.ID <= seen {
			t.Errorf("new account's mailbox %s got id %d, not above the deleted account's highest %d", m.Name, m.ID, seen)
		}
	}
}

// testAccountDisable: a disabled account cannot log in, keeps its mail and
// still receives mail; enabling it again lets it log in.
func testAccountDisable(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "a@example.org")
	if a.Disabled {
		t.Fatal("new account is disabled")
	}
	noErr(t, "Authenticate", func() error { _, err := s.Authenticate(ctx, "a@example.org", pw("a@example.org")); return err }())
	noErr(t, "SetDisabled", s.SetDisabled(ctx, "A@example.org", true))
	got, err := s.Account(ctx, "a@example.org")
	noErr(t, "Account", err)
	if !got.Disabled {
		t.Fatal("Account.Disabled = false after SetDisabled(true)")
	}
	if got := accountByID(t, s, a.ID); !got.Disabled {
		t.Fatal("AccountByID: Disabled = false after SetDisabled(true)")
	}
	all, err := s.Accounts(ctx)
	noErr(t, "Accounts", err)
	if len(all) != 1 || !all[0].Disabled {
		t.Fatalf("Accounts = %+v, want the one account, disabled", all)
	}
	// A correct password no longer logs in, whatever a cache remembers.
	_, err = s.Authenticate(ctx, "a@example.org", pw("a@example.org"))
	wantErr(t, "Authenticate of a disabled account", err, store.ErrAuthFailed)
	_, err = s.Authenticate(ctx, "a", pw("a@example.org"))
	wantErr(t, "Authenticate of a disabled account without domain", err, store.ErrAuthFailed)
	_, err = s.LoginAccount(ctx, "a@example.org")
	wantErr(t, "LoginAccount of a disabled account", err, store.ErrNotFound)
	// Mail to it is still delivered.
	res, err := s.Resolve(ctx, "a@example.org")
	noErr(t, "Resolve of a disabled account", err)
	if len(res.Local) != 1 || res.Local[0].ID != a.ID {
		t.Fatalf("Resolve of a disabled account = %+v", res)
	}
	deliver(t, s, store.Delivery{Raw: Msg{Subject: "while disabled"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
	if n := len(list(t, s, a.ID, mbox(t, s, a.ID, "INBOX").ID, nil)); n != 1 {
		t.Fatalf("disabled account's INBOX has %d messages, want 1", n)
	}
	noErr(t, "SetDisabled false", s.SetDisabled(ctx, "a@example.org", false))
	_, err = s.Authenticate(ctx, "a@example.org", pw("a@example.org"))
	noErr(t, "Authenticate after enabling", err)
	wantErr(t, "SetDisabled of an unknown account", s.SetDisabled(ctx, "nobody@example.org", true), store.ErrNotFound)
}

// testAuthChanges: deleting, disabling and changing the password of an
// account appear in the feed after the cursor; other changes do not.
func testAuthChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "a@example.org")
	b := account(t, s, "b@example.org")
	c := account(t, s, "c@example.org")
	cur, ids, err := s.AuthChanges(ctx, -1)
	noErr(t, "AuthChanges(-1)", err)
	if len(ids) != 0 || cur < 0 {
		t.Fatalf("AuthChanges(-1) = %d %v, want a cursor and no ids", cur, ids)
	}
	next := func(what string, want ...int64) {
		t.Helper()
		n, ids, err := s.AuthChanges(ctx, cur)
		noErr(t, "AuthChanges after "+what, err)
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("AuthChanges after %s = %v, want %v", what, ids, want)
		}
		if n < cur || (len(want) > 0 && n == cur) {
			t.Fatalf("AuthChanges after %s: cursor %d after %d", what, n, cur)
		}
		cur = n
	}
	next("nothing")
	noErr(t, "SetQuota", s.SetQuota(ctx, "a@example.org", 1000, 10))
	noErr(t, "SetPOP3Policy", s.SetPOP3Policy(ctx, "a@example.org", store.POP3Keep))
	deliver(t, s, store.Delivery{Raw: Msg{}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
	next("quota, policy and delivery")
	noErr(t, "SetPassword", s.SetPassword(ctx, "a@example.org", "new password"))
	next("SetPassword", a.ID)
	noErr(t, "SetDisabled", s.SetDisabled(ctx, "b@example.org", true))
	next("SetDisabled", b.ID)
	noErr(t, "SetDisabled again", s.SetDisabled(ctx, "b@example.org", true))
	noErr(t, "SetDisabled false", s.SetDisabled(ctx, "b@example.org", false))
	next("enabling")
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, "c@example.org"))
	next("DeleteAccount", c.ID)
	// Several changes between two polls all appear, each account once.
	noErr(t, "SetPassword", s.SetPassword(ctx, "a@example.org", "another"))
	noErr(t, "SetDisabled", s.SetDisabled(ctx, "a@example.org", true))
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, "b@example.org"))
	next("three changes", a.ID, b.ID)
	// -1 gives the current cursor.
	now, ids, err := s.AuthChanges(ctx, -1)
	noErr(t, "AuthChanges(-1)", err)
	if now != cur || len(ids) != 0 {
		t.Fatalf("AuthChanges(-1) = %d %v, want %d and no ids", now, ids, cur)
	}
}
