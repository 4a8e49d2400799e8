package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the one store contract suite against SQLite.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

func testMessage(subject string) []byte {
	return []byte("From: a@example.org\r\nTo: b@gannet.test\r\nSubject: " + subject +
		"\r\nDate: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <" + subject + "@example.org>\r\n\r\nHello " + subject + "\r\n")
}

// failingThirdRecipient opens a store with accounts u0..u2@gannet.test whose
// deliveries fail at their third recipient with the error it returns.
func failingThirdRecipient(t *testing.T) (*Store, []int64, error) {
	t.Helper()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i := range 3 {
		a, err := s.AddAccount(ctx, fmt.Sprintf("u%d@gannet.test", i), "pw")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	boom := errors.New("injected failure")
	s.deliverHook = func(i int) error {
		if i == 2 {
			return boom
		}
		return nil
	}
	return s, ids, boom
}

// TestDeliverAllOrNothing injects a failure at the third recipient: nothing of the
// delivery may remain for the first two.
func TestDeliverAllOrNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, ids, boom := failingThirdRecipient(t)
	d := store.Delivery{Raw: testMessage("x")}
	for _, id := range ids {
		d.Recipients = append(d.Recipients, store.Recipient{AccountID: id})
	}
	if _, err := s.Deliver(ctx, d); !errors.Is(err, boom) {
		t.Fatalf("Deliver error = %v, want injected failure", err)
	}
	for _, id := range ids {
		mb, err := s.Mailbox(ctx, id, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if mb.Messages != 0 || mb.UIDNext != 1 {
			t.Fatalf("account %d INBOX after failed delivery: %d messages, uidnext %d", id, mb.Messages, mb.UIDNext)
		}
		a, _ := s.AccountByID(ctx, id)
		if a.UsedMessages != 0 || a.UsedBytes != 0 {
			t.Fatalf("account %d usage after failed delivery: %d/%d", id, a.UsedMessages, a.UsedBytes)
		}
	}
	s.deliverHook = nil
	res, err := s.Deliver(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.UID != 1 {
			t.Fatalf("recipient %d: uid %d err %v", i, r.UID, r.Err)
		}
	}
}

// TestMigrateOldDatabase builds a database at schema version 1 (the oldest), puts
// data in it, and checks that Open applies every later migration and that the
// data survives and the store works.
func TestMigrateOldDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gannet.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO domains(name, created) VALUES('old.test', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatalf("open old database: %v", err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The newest migration's number, not their count: numbers may leave
	// gaps (branches reserve theirs).
	entries, _ := migrations.ReadDir("migrations")
	latest := 0
	for _, e := range entries {
		if n, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0]); err == nil && n > latest {
			latest = n
		}
	}
	if v != latest || v < 2 {
		t.Fatalf("schema version %d, want %d", v, latest)
	}
	if ok, _ := s.IsLocalDomain(ctx, "old.test"); !ok {
		t.Fatal("data lost across migration")
	}
	a, err := s.AddAccount(ctx, "u@old.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	raw := testMessage("after migration")
	res, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("deliver after migration: %v %v", err, res)
	}
}

// TestEmptyMessage: a zero-byte message (IMAP APPEND {0}) can be stored and read.
func TestEmptyMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "e@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := s.Mailbox(ctx, a.ID, "INBOX")
	if _, err := s.Append(ctx, a.ID, mb.ID, nil, nil, time.Time{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.List(ctx, a.ID, mb.ID, nil, store.ListOptions{Parsed: true})
	if err != nil || len(msgs) != 1 || msgs[0].Size != 0 {
		t.Fatalf("List = %+v, %v", msgs, err)
	}
	for _, open := range []func() (io.ReadCloser, error){
		func() (io.ReadCloser, error) { return s.Open(ctx, msgs[0].BlobID) },
		func() (io.ReadCloser, error) { return s.OpenRange(ctx, msgs[0].BlobID, 0, 10) },
	} {
		rc, err := open()
		if err != nil {
			t.Fatalf("open empty message: %v", err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) != 0 {
			t.Fatalf("empty message read back as %q", b)
		}
	}
}

// TestAuthCache: a repeated login is answered from the cache, a changed
// password invalidates it at once, and a wrong password is never cached.
func TestAuthCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddAccount(ctx, "c@gannet.test", "old"); err != nil {
		t.Fatal(err)
	}
	a, err := s.Authenticate(ctx, "c@gannet.test", "old")
	if err != nil {
		t.Fatal(err)
	}
	if !s.auth.Hit(a, "old") {
		t.Fatal("successful login not cached")
	}
	if _, err := s.Authenticate(ctx, "c@gannet.test", "wrong"); err == nil || s.auth.Hit(a, "wrong") {
		t.Fatal("wrong password accepted or cached")
	}
	if err := s.SetPassword(ctx, "c@gannet.test", "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "c@gannet.test", "old"); err == nil {
		t.Fatal("old password still accepted after SetPassword")
	}
	if _, err := s.Authenticate(ctx, "c@gannet.test", "new"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccount(ctx, "c@gannet.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "c@gannet.test", "new"); err == nil {
		t.Fatal("deleted account still authenticates")
	}
}
