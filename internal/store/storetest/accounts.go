package storetest

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

func accountTests() []subtest {
	return []subtest{
		{"Add", testAccountAdd},
		{"DefaultMailboxes", testAccountDefaultMailboxes},
		{"Authenticate", testAccountAuthenticate},
		{"PasswordHash", testAccountPasswordHash},
		{"SetPassword", testAccountSetPassword},
		{"SetQuota", testAccountSetQuota},
		{"SetPOP3Policy", testAccountSetPOP3Policy},
		{"Delete", testAccountDelete},
	}
}

func testAccountAdd(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddDomain", s.AddDomain(ctx, "example.org"))
	before := time.Now().Add(-time.Minute)
	a, err := s.AddAccount(ctx, "Alice.Liddell@Example.ORG", "pw")
	noErr(t, "AddAccount", err)
	if a.ID == 0 {
		t.Errorf("new account ID = 0")
	}
	if a.Address != "alice.liddell@example.org" {
		t.Errorf("Address = %q, want lower-case %q", a.Address, "alice.liddell@example.org")
	}
	if a.Domain != "example.org" {
		t.Errorf("Domain = %q, want example.org", a.Domain)
	}
	if a.Created.Before(before) || a.Created.After(time.Now().Add(time.Minute)) {
		t.Errorf("Created = %v, want about now", a.Created)
	}
	if a.UsedBytes != 0 || a.UsedMessages != 0 || a.QuotaBytes != 0 || a.QuotaMessages != 0 {
		t.Errorf("new account quota/used = %d/%d bytes %d/%d messages, want all 0",
			a.UsedBytes, a.QuotaBytes, a.UsedMessages, a.QuotaMessages)
	}
	if a.POP3Policy != store.POP3Delete {
		t.Errorf("new account POP3Policy = %q, want the default %q", a.POP3Policy, store.POP3Delete)
	}

	for _, addr := range []string{"alice.liddell@example.org", "ALICE.LIDDELL@EXAMPLE.ORG"} {
		got, err := s.Account(ctx, addr)
		noErr(t, "Account("+addr+")", err)
		if got.ID != a.ID || got.Address != a.Address {
			t.Errorf("Account(%q) = %d %q, want %d %q", addr, got.ID, got.Address, a.ID, a.Address)
		}
	}
	byID, err := s.AccountByID(ctx, a.ID)
	noErr(t, "AccountByID", err)
	if byID.Address != a.Address {
		t.Errorf("AccountByID = %q, want %q", byID.Address, a.Address)
	}

	_, err = s.AddAccount(ctx, "alice.liddell@example.org", "other")
	wantErr(t, "AddAccount duplicate", err, store.ErrExists)
	_, err = s.AddAccount(ctx, "ALICE.liddell@example.org", "other")
	wantErr(t, "AddAccount duplicate differing in case", err, store.ErrExists)
	_, err = s.AddAccount(ctx, "bob@nowhere.example", "pw")
	wantErr(t, "AddAccount in unknown domain", err, store.ErrNotFound)
	for _, bad := range []string{"", "no-at-sign", "@example.org", "bob@"} {
		if _, err := s.AddAccount(ctx, bad, "pw"); err == nil {
			t.Errorf("AddAccount(%q) succeeded", bad)
		}
	}

	b, err := s.AddAccount(ctx, "bob@example.org", "pw")
	noErr(t, "AddAccount bob", err)
	if b.ID == a.ID {
		t.Errorf("two accounts share ID %d", a.ID)
	}
	all, err := s.Accounts(ctx)
	noErr(t, "Accounts", err)
	var addrs []string
	for _, x := range all {
		addrs = append(addrs, x.Address)
	}
	slices.Sort(addrs)
	if want := []string{"alice.liddell@example.org", "bob@example.org"}; !slices.Equal(addrs, want) {
		t.Errorf("Accounts = %q, want %q", addrs, want)
	}
	_, err = s.Account(ctx, "carol@example.org")
	wantErr(t, "Account unknown", err, store.ErrNotFound)
	_, err = s.AccountByID(ctx, a.ID+b.ID+1000)
	wantErr(t, "AccountByID unknown", err, store.ErrNotFound)
}

func testAccountDefaultMailboxes(t *testing.T, s store.Store) {
	for _, addr := range []string{"alice@example.org", "bob@example.org"} {
		a := account(t, s, addr)
		mbs, err := s.Mailboxes(t.Context(), a.ID)
		noErr(t, "Mailboxes", err)
		got := map[string]string{}
		ids := map[int64]bool{}
		for _, mb := range mbs {
			got[mb.Name] = mb.SpecialUse
			if mb.AccountID != a.ID {
				t.Errorf("%s: mailbox %q AccountID = %d", addr, mb.Name, mb.AccountID)
			}
			if mb.UIDValidity == 0 {
				t.Errorf("%s: mailbox %q UIDValidity 0", addr, mb.Name)
			}
			if mb.UIDNext == 0 {
				t.Errorf("%s: mailbox %q UIDNext 0", addr, mb.Name)
			}
			if mb.Messages != 0 || mb.Unseen != 0 || mb.Deleted != 0 || mb.Size != 0 {
				t.Errorf("%s: new mailbox %q has counts %+v", addr, mb.Name, mb)
			}
			if ids[mb.ID] {
				t.Errorf("%s: duplicate mailbox ID %d", addr, mb.ID)
			}
			ids[mb.ID] = true
		}
		want := map[string]string{}
		for _, d := range store.DefaultMailboxes {
			want[d.Name] = d.SpecialUse
		}
		if !maps.Equal(got, want) || len(mbs) != len(store.DefaultMailboxes) {
			t.Errorf("%s: mailboxes (name → special use) = %q, want exactly %q", addr, got, want)
		}
	}
}

func testAccountAuthenticate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := NewAccount(t, s, "alice@example.org", "s3cret pass")
	NewAccount(t, s, "bob@example.org", "bobs password")

	got, err := s.Authenticate(ctx, "alice@example.org", "s3cret pass")
	noErr(t, "Authenticate good password", err)
	if got.ID != a.ID || got.Address != "alice@example.org" {
		t.Errorf("Authenticate = %d %q, want %d alice@example.org", got.ID, got.Address, a.ID)
	}
	got, err = s.Authenticate(ctx, "Alice@EXAMPLE.org", "s3cret pass")
	noErr(t, "Authenticate with upper-case address", err)
	if got.ID != a.ID {
		t.Errorf("Authenticate(upper-case) = account %d, want %d", got.ID, a.ID)
	}
	// A user name without a domain is taken in the oldest domain.
	NewAccount(t, s, "alice@zzz.example", "other pass")
	got, err = s.Authenticate(ctx, "Alice", "s3cret pass")
	noErr(t, "Authenticate without a domain", err)
	if got.ID != a.ID {
		t.Errorf("Authenticate(%q) = account %d %s, want %d", "Alice", got.ID, got.Address, a.ID)
	}
	la, err := s.LoginAccount(ctx, "alice")
	noErr(t, "LoginAccount without a domain", err)
	if la.ID != a.ID {
		t.Errorf("LoginAccount(alice) = %s, want alice@example.org", la.Address)
	}
	la, err = s.LoginAccount(ctx, "alice@zzz.example")
	noErr(t, "LoginAccount with a domain", err)
	if la.Address != "alice@zzz.example" {
		t.Errorf("LoginAccount(alice@zzz.example) = %s", la.Address)
	}
	if _, err := s.LoginAccount(ctx, "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("LoginAccount(carol) = %v, want ErrNotFound", err)
	}
	for _, c := range []struct{ addr, pw string }{
		{"alice", "other pass"},
		{"carol", "s3cret pass"},
		{"alice@", "s3cret pass"},
		{"alice@example.org", "s3cret Pass"},
		{"alice@example.org", "s3cret pass "},
		{"alice@example.org", ""},
		{"alice@example.org", "bobs password"},
		{"nobody@example.org", "s3cret pass"},
		{"alice@nowhere.example", "s3cret pass"},
		{"", ""},
	} {
		acc, err := s.Authenticate(ctx, c.addr, c.pw)
		if !errors.Is(err, store.ErrAuthFailed) {
			t.Errorf("Authenticate(%q, %q) = %v, %v; want ErrAuthFailed", c.addr, c.pw, acc, err)
		}
	}
}

func testAccountPasswordHash(t *testing.T, s store.Store) {
	const pass = "Tr0ub4dor&3-unique"
	a := NewAccount(t, s, "alice@example.org", pass)
	b := NewAccount(t, s, "bob@example.org", pass)
	for _, acc := range []*store.Account{a, b} {
		stored, err := s.AccountByID(t.Context(), acc.ID)
		noErr(t, "AccountByID", err)
		for _, h := range []string{acc.PasswordHash, stored.PasswordHash} {
			if !strings.HasPrefix(h, "$argon2id$") {
				t.Errorf("%s: PasswordHash %q is not an argon2id PHC string", acc.Address, h)
			}
			if strings.Contains(h, pass) {
				t.Errorf("%s: PasswordHash contains the password", acc.Address)
			}
			// $argon2id$v=19$m=...,t=...,p=...$salt$hash
			if parts := strings.Split(h, "$"); len(parts) != 6 || parts[4] == "" || parts[5] == "" {
				t.Errorf("%s: PasswordHash %q does not have 6 $-separated fields with salt and hash", acc.Address, h)
			}
		}
	}
	if a.PasswordHash == b.PasswordHash {
		t.Errorf("two accounts with the same password have the same hash (no salt?)")
	}
}

func testAccountSetPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := NewAccount(t, s, "alice@example.org", "old password")
	noErr(t, "SetPassword", s.SetPassword(ctx, "Alice@example.org", "new password"))
	_, err := s.Authenticate(ctx, "alice@example.org", "old password")
	wantErr(t, "Authenticate with old password", err, store.ErrAuthFailed)
	_, err = s.Authenticate(ctx, "alice@example.org", "new password")
	noErr(t, "Authenticate with new password", err)
	after, err := s.AccountByID(ctx, a.ID)
	noErr(t, "AccountByID", err)
	if after.PasswordHash == a.PasswordHash {
		t.Errorf("PasswordHash unchanged by SetPassword")
	}
	if !strings.HasPrefix(after.PasswordHash, "$argon2id$") || strings.Contains(after.PasswordHash, "new password") {
		t.Errorf("PasswordHash after SetPassword = %q, want argon2id without the password", after.PasswordHash)
	}
	wantErr(t, "SetPassword unknown account", s.SetPassword(ctx, "nobody@example.org", "x"), store.ErrNotFound)
}

func testAccountSetQuota(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	noErr(t, "SetQuota", s.SetQuota(ctx, "alice@example.org", 1<<20, 100))
	got := accountByID(t, s, a.ID)
	if got.QuotaBytes != 1<<20 || got.QuotaMessages != 100 {
		t.Errorf("quota = %d bytes %d messages, want %d %d", got.QuotaBytes, got.QuotaMessages, 1<<20, 100)
	}
	noErr(t, "SetQuota unlimited", s.SetQuota(ctx, "alice@example.org", 0, 0))
	got = accountByID(t, s, a.ID)
	if got.QuotaBytes != 0 || got.QuotaMessages != 0 {
		t.Errorf("quota = %d bytes %d messages, want 0 0", got.QuotaBytes, got.QuotaMessages)
	}
	wantErr(t, "SetQuota unknown account", s.SetQuota(ctx, "nobody@example.org", 1, 1), store.ErrNotFound)
	if err := s.SetQuota(ctx, "alice@example.org", -1, 0); err == nil {
		if q := accountByID(t, s, a.ID).QuotaBytes; q < 0 {
			t.Errorf("SetQuota accepted a negative quota and stored %d", q)
		}
	}
}

func testAccountSetPOP3Policy(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	for _, p := range []string{store.POP3Keep, store.POP3Archive, store.POP3Delete} {
		noErr(t, "SetPOP3Policy "+p, s.SetPOP3Policy(ctx, "alice@example.org", p))
		if got := accountByID(t, s, a.ID).POP3Policy; got != p {
			t.Errorf("POP3Policy = %q, want %q", got, p)
		}
	}
	noErr(t, "SetPOP3Policy keep", s.SetPOP3Policy(ctx, "alice@example.org", store.POP3Keep))
	for _, bad := range []string{"", "shred", "Delete "} {
		if err := s.SetPOP3Policy(ctx, "alice@example.org", bad); err == nil {
			t.Errorf("SetPOP3Policy(%q) succeeded", bad)
		}
	}
	if got := accountByID(t, s, a.ID).POP3Policy; got != store.POP3Keep {
		t.Errorf("POP3Policy after refused changes = %q, want %q", got, store.POP3Keep)
	}
	wantErr(t, "SetPOP3Policy unknown account", s.SetPOP3Policy(ctx, "nobody@example.org", store.POP3Keep), store.ErrNotFound)
}

func testAccountDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	work := createMbox(t, s, a.ID, "Work")
	inbox := mbox(t, s, a.ID, "INBOX")
	raw := Msg{Subject: "to be deleted with the account"}.Bytes()
	res := deliver(t, s, store.Delivery{Raw: raw, Recipients: []store.Recipient{
		{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Work"}, {AccountID: b.ID},
	}})
	blob := one(t, s, b.ID, mbox(t, s, b.ID, "INBOX").ID, res[2].UID).BlobID

	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, "ALICE@example.org"))
	_, err := s.Account(ctx, "alice@example.org")
	wantErr(t, "Account after delete", err, store.ErrNotFound)
	_, err = s.AccountByID(ctx, a.ID)
	wantErr(t, "AccountByID after delete", err, store.ErrNotFound)
	_, err = s.Authenticate(ctx, "alice@example.org", pw("alice@example.org"))
	wantErr(t, "Authenticate after delete", err, store.ErrAuthFailed)
	_, err = s.Resolve(ctx, "alice@example.org")
	wantErr(t, "Resolve after delete", err, store.ErrNotFound)
	for _, id := range []int64{inbox.ID, work.ID} {
		_, err = s.MailboxByID(ctx, a.ID, id)
		wantErr(t, "MailboxByID of deleted account", err, store.ErrNotFound)
		if msgs, err := s.List(ctx, a.ID, id, nil, store.ListOptions{}); err == nil && len(msgs) > 0 {
			t.Errorf("List of a deleted account's mailbox returned %d messages", len(msgs))
		}
	}
	if mbs, err := s.Mailboxes(ctx, a.ID); err == nil && len(mbs) > 0 {
		t.Errorf("Mailboxes of a deleted account = %d mailboxes", len(mbs))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Mailboxes of a deleted account: %v, want ErrNotFound or empty", err)
	}
	// Bob's copy survives and its blob is still readable.
	if n := len(list(t, s, b.ID, mbox(t, s, b.ID, "INBOX").ID, nil)); n != 1 {
		t.Errorf("bob's INBOX has %d messages after alice was deleted, want 1", n)
	}
	rc, err := s.Open(ctx, blob)
	if b := readAll(t, rc, err, "Open bob's blob"); string(b) != string(raw) {
		t.Errorf("bob's blob changed after alice was deleted")
	}
	wantErr(t, "DeleteAccount again", s.DeleteAccount(ctx, "alice@example.org"), store.ErrNotFound)

	// The address can be reused and starts empty.
	a2 := account(t, s, "alice@example.org")
	if a2.ID == a.ID {
		t.Errorf("re-created account reuses ID %d", a.ID)
	}
	if a2.UsedMessages != 0 || a2.UsedBytes != 0 {
		t.Errorf("re-created account Used = %d messages %d bytes, want 0", a2.UsedMessages, a2.UsedBytes)
	}
	mbs, err := s.Mailboxes(ctx, a2.ID)
	noErr(t, "Mailboxes", err)
	if len(mbs) != len(store.DefaultMailboxes) {
		t.Errorf("re-created account has %d mailboxes, want %d", len(mbs), len(store.DefaultMailboxes))
	}
	for _, mb := range mbs {
		if mb.Messages != 0 {
			t.Errorf("re-created account's %s has %d messages", mb.Name, mb.Messages)
		}
	}
}
