package migrate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/pgstore"
	"gannet/internal/store/pgstore/pgtest"
	"gannet/internal/store/sqlstore"
)

// pg is this test binary's PostgreSQL server (pgtest.Main starts and stops it).
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, pgtest.Options{}, &pg)) }

func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), t.TempDir(), sqlstore.Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openPG opens a store on a fresh database as `gannet migrate` does
// (Import: the target of an unfinished move).
func openPG(t *testing.T) *pgstore.Store {
	t.Helper()
	s, _ := openPGDSN(t)
	return s
}

func openPGDSN(t *testing.T) (*pgstore.Store, string) {
	t.Helper()
	dsn := pg.NewDatabase(t)
	s, err := pgstore.Open(t.Context(), dsn, pgstore.Options{FastPasswords: true, Import: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dsn
}

// must returns v, or panics with err (failing the test with a stack trace
// that names the call).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// msg is a small distinct message.
func msg(i int, extra string) []byte {
	return fmt.Appendf(nil, "From: Sender %d <s%d@remote.example>\r\nTo: a@example.com\r\nSubject: message %d %s\r\n"+
		"Date: Mon, 7 Dec 2026 10:%02d:00 +0000\r\nMessage-ID: <%d@remote>\r\n\r\nbody %d %s\r\n", i, i, i, extra, i%60, i, i, extra)
}

// big is a multipart message larger than one pgstore chunk.
func big() []byte {
	var b bytes.Buffer
	b.WriteString("From: x@remote.example\r\nTo: a@example.com\r\nSubject: big\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=BB\r\n\r\n--BB\r\nContent-Type: text/plain\r\n\r\nhello\r\n--BB\r\n" +
		"Content-Type: application/octet-stream\r\n\r\n")
	for i := 0; b.Len() < 600<<10; i++ {
		fmt.Fprintf(&b, "line %d of a large attachment %x\r\n", i, i*7919)
	}
	b.WriteString("--BB--\r\n")
	return b.Bytes()
}

// world is what fill made.
type world struct {
	a, b    *store.Account
	session [32]byte
}

// fill makes a SQLite store with something of everything, through the
// public API: a deleted account (so the high-water mark is above every
// live id), aliases, DKIM keys, mailboxes with special use and
// subscriptions, deliveries (one to two accounts: one body), a large
// message, flags and keywords, expunges, a move, a POP3-hidden message,
// the queue with an attempt, a webmail session.
func fill(t *testing.T, s *sqlstore.Store) world {
	ctx := t.Context()
	ok(t, s.AddDomain(ctx, "example.com"))
	ok(t, s.AddDomain(ctx, "other.org"))
	a := must(s.AddAccount(ctx, "a@example.com", "pw-a"))
	b := must(s.AddAccount(ctx, "b@example.com", "pw-b"))
	must(s.AddAccount(ctx, "gone@example.com", "pw"))
	ok(t, s.DeleteAccount(ctx, "gone@example.com"))
	ok(t, s.SetQuota(ctx, "b@example.com", 1<<30, 1000))
	ok(t, s.SetPOP3Policy(ctx, "b@example.com", "keep"))
	ok(t, s.AddAlias(ctx, "team@example.com", []string{"a@example.com", "b@example.com"}))
	ok(t, s.AddDKIMKey(ctx, store.DKIMKey{Domain: "example.com", Selector: "s1", Algorithm: "ed25519", PEM: []byte("pem"), Created: time.Unix(1700000000, 0).UTC()}))
	must(s.CreateMailbox(ctx, a.ID, "Projects", ""))
	must(s.CreateMailbox(ctx, a.ID, "Projects/Gannet", ""))
	must(s.CreateMailbox(ctx, a.ID, "Receipts", ""))
	ok(t, s.SubscribeMailbox(ctx, a.ID, "Projects", true))
	tmp := must(s.CreateMailbox(ctx, a.ID, "Tmp", ""))
	ok(t, s.DeleteMailbox(ctx, a.ID, tmp.Name))
	for i := range 30 {
		rc := []store.Recipient{{AccountID: a.ID}}
		if i%3 == 0 {
			rc = append(rc, store.Recipient{AccountID: b.ID, Flags: []string{"$Forwarded"}})
		}
		must(s.Deliver(ctx, store.Delivery{Raw: msg(i, ""), InternalDate: time.Unix(1765000000+int64(i), 0), Recipients: rc}))
	}
	must(s.Deliver(ctx, store.Delivery{Raw: big(), Recipients: []store.Recipient{{AccountID: a.ID}}}))
	inbox := must(s.Mailbox(ctx, a.ID, "INBOX"))
	archive := must(s.Mailbox(ctx, a.ID, "Projects"))
	must(s.StoreFlags(ctx, a.ID, inbox.ID, store.UIDSet{{Lo: 1, Hi: 10}}, store.FlagsAdd, []string{"\\Seen", "Work"}, 0))
	must(s.StoreFlags(ctx, a.ID, inbox.ID, store.UIDSet{{Lo: 3, Hi: 4}}, store.FlagsAdd, []string{"\\Deleted"}, 0))
	must(s.Expunge(ctx, a.ID, inbox.ID, nil))
	must(s.Move(ctx, a.ID, inbox.ID, store.UIDSet{{Lo: 11, Hi: 14}}, archive.ID))
	binbox := must(s.Mailbox(ctx, b.ID, "INBOX"))
	ok(t, s.SetPOPHidden(ctx, b.ID, binbox.ID, []uint32{1, 2}))
	now := time.Unix(1765100000, 0)
	qid := must(s.EnqueueOutbound(ctx, store.Outbound{From: "a@example.com", Recipients: []string{"x@far.example", "y@far.example"},
		Raw: msg(99, "queued"), AccountID: a.ID, EnvID: "env1", Ret: "HDRS", Notify: map[string]string{"x@far.example": "FAILURE"}}, now))
	ok(t, s.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: qid, Address: "x@far.example", Attempts: 2,
		NextAttempt: now.Add(time.Hour), LastAttempt: now, LastError: "451 later"}}))
	var w world
	w.a, w.b = a, b
	w.session[0], w.session[31] = 1, 2
	ok(t, s.CreateWebSession(ctx, store.WebSession{TokenHash: w.session, AccountID: a.ID, CSRF: "csrf",
		Credential: [32]byte{9}, Created: now, LastSeen: now}, 10))
	ok(t, s.PutSieveScript(ctx, a.ID, "main", []byte("keep;")))
	ok(t, s.PutSieveScript(ctx, a.ID, "other", []byte("discard;")))
	ok(t, s.ActivateSieveScript(ctx, a.ID, "main"))
	must(s.MarkSieveSeen(ctx, store.SeenMark{AccountID: a.ID, Kind: store.SeenVacation, Key: "k", Now: now, Expires: now.Add(time.Hour)}))
	return w
}

// compare checks, through the public API of both stores, that dst holds
// what src holds.
func compare(t *testing.T, src, dst store.Store, w world) {
	t.Helper()
	ctx := t.Context()
	eq := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s:\nsqlite   %+v\npostgres %+v", what, a, b)
		}
	}
	eq("domains", must(src.Domains(ctx)), must(dst.Domains(ctx)))
	eq("aliases", must(src.Aliases(ctx)), must(dst.Aliases(ctx)))
	eq("dkim", must(src.DKIMKeys(ctx, "example.com")), must(dst.DKIMKeys(ctx, "example.com")))
	accs := must(src.Accounts(ctx))
	eq("accounts", accs, must(dst.Accounts(ctx)))
	for _, acc := range accs {
		eq("subscriptions of "+acc.Address, must(src.Subscriptions(ctx, acc.ID)), must(dst.Subscriptions(ctx, acc.ID)))
		eq("sieve scripts of "+acc.Address, must(src.SieveScripts(ctx, acc.ID)), must(dst.SieveScripts(ctx, acc.ID)))
		if sc, err := src.ActiveSieveScript(ctx, acc.ID); err == nil {
			eq("active sieve script of "+acc.Address, sc, must(dst.ActiveSieveScript(ctx, acc.ID)))
		}
		mbs := must(src.Mailboxes(ctx, acc.ID))
		eq("mailboxes of "+acc.Address, mbs, must(dst.Mailboxes(ctx, acc.ID)))
		for _, mb := range mbs {
			where := acc.Address + " " + mb.Name
			sm := must(src.List(ctx, acc.ID, mb.ID, nil, store.ListOptions{Parsed: true}))
			eq("messages of "+where, sm, must(dst.List(ctx, acc.ID, mb.ID, nil, store.ListOptions{Parsed: true})))
			eq("changes of "+where, must(src.Changes(ctx, acc.ID, mb.ID, 0)), must(dst.Changes(ctx, acc.ID, mb.ID, 0)))
			for _, m := range sm {
				if !bytes.Equal(readAll(t, src, m.BlobID), readAll(t, dst, m.BlobID)) {
					t.Errorf("%s uid %d: bytes differ", where, m.UID)
				}
			}
		}
	}
	sq, dq := must(src.QueueList(ctx)), must(dst.QueueList(ctx))
	eq("queue", sq, dq)
	for _, m := range sq {
		eq(fmt.Sprintf("queued message %d bytes", m.ID), must(src.QueueMessageData(ctx, m.ID)), must(dst.QueueMessageData(ctx, m.ID)))
	}
	eq("web session", must(src.WebSession(ctx, w.session)), must(dst.WebSession(ctx, w.session)))
	eq("vacation record", must(src.SieveSeen(ctx, w.a.ID, store.SeenVacation, "k", time.Unix(1765100000, 0))),
		must(dst.SieveSeen(ctx, w.a.ID, store.SeenVacation, "k", time.Unix(1765100000, 0))))
	if !must(dst.SieveSeen(ctx, w.a.ID, store.SeenVacation, "k", time.Unix(1765100000, 0))) {
		t.Error("vacation record not migrated")
	}
}

func readAll(t *testing.T, s store.Store, blob string) []byte {
	t.Helper()
	rc := must(s.Open(t.Context(), blob))
	defer rc.Close()
	return must(io.ReadAll(rc))
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	src := openSQLite(t)
	dst, dsn := openPGDSN(t)
	w := fill(t, src)
	var out bytes.Buffer
	m := must(New(ctx, src, dst, NewProgress(&out)))
	st := must(m.Pass(ctx, "pass 1"))
	if st.Messages == 0 || st.Bodies == 0 || st.Tombstones == 0 || st.Queue != 1 {
		t.Errorf("pass 1 stats %+v", st)
	}
	// 30 small distinct messages and a large one, less msg(2), expunged
	// (msg(3), expunged from a, is still in b's INBOX); the ten delivered
	// to both accounts are one body each.
	if st.Bodies != 30 {
		t.Errorf("bodies copied = %d, want 30", st.Bodies)
	}
	if !strings.Contains(out.String(), "pass 1:") {
		t.Errorf("progress output %q", out.String())
	}
	compare(t, src, dst, w)
	// Until the move is finished, a server (or an admin command) is
	// refused the database.
	if s, err := pgstore.Open(ctx, dsn, pgstore.Options{}); !errors.Is(err, pgstore.ErrImporting) {
		if err == nil {
			s.Close()
		}
		t.Errorf("open during the move: %v, want ErrImporting", err)
	}
	st2 := must(m.Finish(ctx))
	reopened := must(pgstore.Open(ctx, dsn, pgstore.Options{}))
	reopened.Close()
	if st2.Changes() != 0 || st2.Accounts != 0 {
		t.Errorf("final pass without changes copied %+v", st2)
	}
	compare(t, src, dst, w)

	// The target works on: a new account's id is above every id the
	// source gave (the deleted account's included), a new message gets
	// the old UIDNEXT, a new mailbox a larger UIDVALIDITY.
	srcMark := must(src.AddAccount(ctx, "probe@example.com", "pw")).ID
	nacc := must(dst.AddAccount(ctx, "new@example.com", "pw"))
	if nacc.ID < srcMark {
		t.Errorf("new account id %d on postgres, want >= %d (sqlite's next)", nacc.ID, srcMark)
	}
	inbox := must(src.Mailbox(ctx, w.a.ID, "INBOX"))
	res := must(dst.Deliver(ctx, store.Delivery{Raw: msg(500, "after"), Recipients: []store.Recipient{{AccountID: w.a.ID}}}))
	if res[0].UID != inbox.UIDNext || res[0].UIDValidity != inbox.UIDValidity {
		t.Errorf("new message uid %d/%d, want %d/%d", res[0].UID, res[0].UIDValidity, inbox.UIDNext, inbox.UIDValidity)
	}
	srcMB := must(src.CreateMailbox(ctx, w.a.ID, "Probe", ""))
	dstMB := must(dst.CreateMailbox(ctx, w.a.ID, "New", ""))
	if dstMB.UIDValidity < srcMB.UIDValidity || dstMB.ID < srcMB.ID {
		t.Errorf("new mailbox on postgres id %d uidvalidity %d, want >= %d, %d", dstMB.ID, dstMB.UIDValidity, srcMB.ID, srcMB.UIDValidity)
	}
	// Finished: the database is an ordinary one and refuses another move.
	if _, err := New(ctx, src, dst, nil); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second move into a finished target: %v, want ErrNotEmpty", err)
	}
}

func TestMigrateRefusesNonEmpty(t *testing.T) {
	ctx := t.Context()
	src, dst := openSQLite(t), openPG(t)
	fill(t, src)
	ok(t, dst.AddDomain(ctx, "x.org"))
	must(dst.AddAccount(ctx, "u@x.org", "pw"))
	if _, err := New(ctx, src, dst, nil); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("New into a database with accounts: %v, want ErrNotEmpty", err)
	}
	// Another source into a started move is refused too.
	dst2 := openPG(t)
	must(New(ctx, src, dst2, nil))
	if _, err := New(ctx, openSQLite(t), dst2, nil); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("New from another source: %v, want ErrNotEmpty", err)
	}
	// The same source resumes.
	must(New(ctx, src, dst2, nil))
}

// TestMigrateCatchUp: changes made on the source after pass 1 (as a server
// still serving makes them) reach the target in a catch-up pass, and a
// CONDSTORE client's resync (CHANGEDSINCE its last HIGHESTMODSEQ, RFC 7162
// 3.1.4, and VANISHED, 3.2.10) on the target returns exactly what changed.
func TestMigrateCatchUp(t *testing.T) {
	ctx := t.Context()
	src, dst := openSQLite(t), openPG(t)
	w := fill(t, src)
	m := must(New(ctx, src, dst, nil))
	must(m.Pass(ctx, "pass 1"))
	inbox := must(src.Mailbox(ctx, w.a.ID, "INBOX"))
	before := inbox.HighestModSeq

	must(src.Deliver(ctx, store.Delivery{Raw: msg(100, "late"), Recipients: []store.Recipient{{AccountID: w.a.ID}}}))
	must(src.StoreFlags(ctx, w.a.ID, inbox.ID, store.UIDSet{{Lo: 20, Hi: 21}}, store.FlagsAdd, []string{"\\Flagged", "Late"}, 0))
	must(src.ExpungeUIDs(ctx, w.a.ID, inbox.ID, []uint32{22}))
	// A rename chain: Receipts to Old, then Projects (and its child) to
	// Receipts, and a new Projects.
	ok(t, src.RenameMailbox(ctx, w.a.ID, "Receipts", "Old"))
	ok(t, src.RenameMailbox(ctx, w.a.ID, "Projects", "Receipts"))
	must(src.CreateMailbox(ctx, w.a.ID, "Projects", ""))
	c := must(src.AddAccount(ctx, "c@example.com", "pw-c"))
	must(src.Deliver(ctx, store.Delivery{Raw: msg(101, "c"), Recipients: []store.Recipient{{AccountID: c.ID}}}))
	ok(t, src.SetPassword(ctx, "b@example.com", "new"))
	binbox := must(src.Mailbox(ctx, w.b.ID, "INBOX"))
	ok(t, src.SetPOPHidden(ctx, w.b.ID, binbox.ID, []uint32{3}))

	st := must(m.Pass(ctx, "catch-up"))
	// a: one new, two flagged, one expunged; c: one new. b changed no
	// mail (a password and a POP3 hide bump no MODSEQ).
	if st.Messages != 4 || st.Tombstones != 1 || st.Accounts != 2 {
		t.Errorf("catch-up copied %+v, want 4 messages, 1 tombstone, 2 accounts", st)
	}
	compare(t, src, dst, w)
	want := must(src.Changes(ctx, w.a.ID, inbox.ID, before))
	got := must(dst.Changes(ctx, w.a.ID, inbox.ID, before))
	if !reflect.DeepEqual(want, got) || len(got.Changed) != 3 || !reflect.DeepEqual(got.Vanished, []uint32{22}) {
		t.Errorf("changes since %d:\nsqlite   %+v\npostgres %+v", before, want, got)
	}
	if _, err := dst.Authenticate(ctx, "b@example.com", "new"); err != nil {
		t.Errorf("new password on postgres: %v", err)
	}
	// Resume: a new Migrator on the same target copies nothing again.
	m2 := must(New(ctx, src, dst, nil))
	st = must(m2.Pass(ctx, "resumed"))
	if st.Changes() != 0 {
		t.Errorf("resumed pass copied %+v, want nothing", st)
	}
}

// TestMigrateProgress: the plain (non-terminal) progress lines.
func TestMigrateProgress(t *testing.T) {
	var out bytes.Buffer
	p := NewProgress(&out)
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	p.Start("pass 1", 100)
	now = now.Add(10 * time.Second)
	p.Add(50, 5e6)
	got := out.String()
	for _, want := range []string{"pass 1: 100 messages to look at", "50/100 messages (50%)", "5.0 MB", "5 msg/s", "ETA 10s"} {
		if !strings.Contains(got, want) {
			t.Errorf("progress %q lacks %q", got, want)
		}
	}
}

// TestMigrateWhileServing: the source keeps taking deliveries, flag
// changes, expunges and moves while pass 1 and the catch-up run (the
// snapshot keeps each pass consistent); after the writer stops, the final
// pass leaves the target equal to the source.
func TestMigrateWhileServing(t *testing.T) {
	ctx := t.Context()
	src, dst := openSQLite(t), openPG(t)
	w := fill(t, src)
	inbox := must(src.Mailbox(ctx, w.a.ID, "INBOX"))
	projects := must(src.Mailbox(ctx, w.a.ID, "Projects"))
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var err error
		for i := 0; err == nil; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			var res []store.DeliveryResult
			res, err = src.Deliver(ctx, store.Delivery{Raw: msg(1000+i, "live"),
				Recipients: []store.Recipient{{AccountID: w.a.ID}, {AccountID: w.b.ID}}})
			if err != nil {
				break
			}
			u := res[0].UID
			switch i % 4 {
			case 1:
				_, err = src.StoreFlags(ctx, w.a.ID, inbox.ID, store.UIDSet{{Lo: u - 1, Hi: u}}, store.FlagsAdd, []string{"\\Seen", fmt.Sprintf("k%d", i%3)}, 0)
			case 2:
				_, err = src.ExpungeUIDs(ctx, w.a.ID, inbox.ID, []uint32{u - 2})
			case 3:
				_, err = src.Move(ctx, w.a.ID, inbox.ID, store.UIDSet{{Lo: u, Hi: u}}, projects.ID)
			}
		}
		done <- err
	}()
	m := must(New(ctx, src, dst, nil))
	must(m.Pass(ctx, "pass 1"))
	ok(t, m.CatchUp(ctx, 0, 3))
	close(stop)
	ok(t, <-done)
	must(m.Finish(ctx))
	compare(t, src, dst, w)
	if n := len(must(dst.List(ctx, w.a.ID, inbox.ID, nil, store.ListOptions{}))); n < 40 {
		t.Errorf("only %d messages in INBOX: the writer hardly ran", n)
	}
}
