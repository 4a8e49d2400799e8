package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// twoNodes opens two Stores (two nodes) on one fresh database, with the
// domain example.org.
func twoNodes(t *testing.T) (a, b *Store) {
	t.Helper()
	dsn := pg.NewDatabase(t)
	a = openDSN(t, dsn)
	b = openDSN(t, dsn)
	if err := a.AddDomain(t.Context(), "example.org"); err != nil {
		t.Fatal(err)
	}
	return a, b
}

func mustAccount(t *testing.T, s *Store, addr, pw string) *store.Account {
	t.Helper()
	acc, err := s.AddAccount(t.Context(), addr, pw)
	if err != nil {
		t.Fatalf("AddAccount %s: %v", addr, err)
	}
	return acc
}

// TestPasswordChangeAcrossNodes: a login cached on node B is refused on B at
// once after node A changes the password, disables or deletes the account
// (no waiting for the cache's TTL).
func TestPasswordChangeAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	mustAccount(t, a, "u@example.org", "old")
	login := func(pw string) error {
		_, err := b.Authenticate(ctx, "u@example.org", pw)
		return err
	}
	// Twice: the second is answered from B's cache.
	for range 2 {
		if err := login("old"); err != nil {
			t.Fatalf("login on B: %v", err)
		}
	}
	if err := a.SetPassword(ctx, "u@example.org", "new"); err != nil {
		t.Fatal(err)
	}
	if err := login("old"); !errors.Is(err, store.ErrAuthFailed) {
		t.Fatalf("old password on B right after A changed it: %v; want ErrAuthFailed", err)
	}
	if err := login("new"); err != nil {
		t.Fatalf("new password on B: %v", err)
	}
	if err := login("new"); err != nil { // cached now
		t.Fatalf("new password on B again: %v", err)
	}
	if err := a.SetDisabled(ctx, "u@example.org", true); err != nil {
		t.Fatal(err)
	}
	if err := login("new"); !errors.Is(err, store.ErrAuthFailed) {
		t.Fatalf("login on B right after A disabled the account: %v; want ErrAuthFailed", err)
	}
	if err := a.SetDisabled(ctx, "u@example.org", false); err != nil {
		t.Fatal(err)
	}
	if err := login("new"); err != nil {
		t.Fatalf("login on B after A enabled the account: %v", err)
	}
	// Deleted and created again with the same password: a new account,
	// whose login B must check afresh (not the old account's cached one).
	if err := a.DeleteAccount(ctx, "u@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := login("new"); !errors.Is(err, store.ErrAuthFailed) {
		t.Fatalf("login on B right after A deleted the account: %v; want ErrAuthFailed", err)
	}
	again := mustAccount(t, a, "u@example.org", "new")
	got, err := b.Authenticate(ctx, "u@example.org", "new")
	if err != nil || got.ID != again.ID {
		t.Fatalf("login on B to the new account: %+v, %v; want id %d", got, err, again.ID)
	}
}

// TestAuthChangesAcrossNodes: a password change, a disable and a delete
// made on node A are in the revocation feed node B reads, once each, and a
// cursor taken from B moves past them.
func TestAuthChangesAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	u := mustAccount(t, a, "u@example.org", "pw")
	v := mustAccount(t, a, "v@example.org", "pw")
	w := mustAccount(t, a, "w@example.org", "pw")
	cur, ids, err := b.AuthChanges(ctx, -1)
	if err != nil || len(ids) != 0 {
		t.Fatalf("AuthChanges(-1) on B: %d, %v, %v", cur, ids, err)
	}
	if err := a.SetQuota(ctx, "u@example.org", 100, 0); err != nil { // not a revocation
		t.Fatal(err)
	}
	if next, ids, err := b.AuthChanges(ctx, cur); err != nil || len(ids) != 0 || next != cur {
		t.Fatalf("after a quota change: %d, %v, %v; want %d and nothing", next, ids, err, cur)
	}
	if err := a.SetPassword(ctx, "u@example.org", "pw2"); err != nil {
		t.Fatal(err)
	}
	if err := a.SetDisabled(ctx, "v@example.org", true); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteAccount(ctx, "w@example.org"); err != nil {
		t.Fatal(err)
	}
	next, ids, err := b.AuthChanges(ctx, cur)
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{u.ID, v.ID, w.ID}
	if !slices.Equal(ids, want) || next <= cur {
		t.Fatalf("AuthChanges(%d) on B: %d, %v; want %v and a later cursor", cur, next, ids, want)
	}
	if again, ids, err := b.AuthChanges(ctx, next); err != nil || len(ids) != 0 || again != next {
		t.Fatalf("AuthChanges(%d) again: %d, %v, %v; want nothing new", next, again, ids, err)
	}
	// A cursor from the future (a restored backup) comes back.
	if back, ids, err := b.AuthChanges(ctx, next+1000); err != nil || len(ids) != 0 || back != next {
		t.Fatalf("AuthChanges(future): %d, %v, %v; want %d", back, ids, err, next)
	}
}

// TestAuthChangesInFlight: a revocation whose transaction took its sequence
// number but has not committed yet must not be skipped: a reader that read
// the cursor past it while it was invisible would never see it. The reader
// waits for it instead, and finds it after its commit.
func TestAuthChangesInFlight(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	u := mustAccount(t, a, "u@example.org", "pw")
	cur, _, err := b.AuthChanges(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	// Another node's transaction, stopped between its UPDATE (the trigger
	// has taken seq cur+1) and its commit.
	ptx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	if _, err := ptx.Exec(ctx, `UPDATE accounts SET disabled = TRUE WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	type result struct {
		next int64
		ids  []int64
		err  error
	}
	done := make(chan result, 1)
	go func() {
		next, ids, err := b.AuthChanges(ctx, cur)
		done <- result{next, ids, err}
	}()
	time.Sleep(300 * time.Millisecond) // let the reader run into the in-flight row
	if err := ptx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("AuthChanges still waiting 10 s after the commit")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	seen := r.ids
	_, more, err := b.AuthChanges(ctx, r.next)
	if err != nil {
		t.Fatal(err)
	}
	seen = append(seen, more...)
	if !slices.Contains(seen, u.ID) {
		t.Fatalf("the revocation of account %d committed while a reader ran was lost (first read %d, %v; then %v)",
			u.ID, r.next, r.ids, more)
	}
}

// TestConcurrentAddAccountTwoNodes: accounts created at once on two nodes get
// distinct ids, and their default mailboxes distinct ids and UIDVALIDITYs; the
// same address created at once on both nodes exists once.
func TestConcurrentAddAccountTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	const perNode = 8
	var mu sync.Mutex
	ids := map[int64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, 2*perNode+2)
	for n, s := range []*Store{a, b} {
		for i := range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr := fmt.Sprintf("n%d-%d@example.org", n, i)
				acc, err := s.AddAccount(ctx, addr, "pw")
				if err != nil {
					errs <- fmt.Errorf("AddAccount %s: %w", addr, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, dup := ids[acc.ID]; dup {
					errs <- fmt.Errorf("%s and %s both got account id %d", prev, addr, acc.ID)
				}
				ids[acc.ID] = addr
			}()
		}
	}
	// The same address on both nodes at once: one wins, the other is told
	// it exists.
	var same [2]error
	for n, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, same[n] = s.AddAccount(ctx, "same@example.org", "pw")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if ok := (same[0] == nil) != (same[1] == nil); !ok ||
		!(errors.Is(same[0], store.ErrExists) || errors.Is(same[1], store.ErrExists)) {
		t.Errorf("same address on two nodes: %v, %v; want one success and one ErrExists", same[0], same[1])
	}
	var accounts, mailboxes, uidvalidities int
	err := a.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM accounts),
		(SELECT count(DISTINCT id) FROM mailboxes), (SELECT count(DISTINCT uidvalidity) FROM mailboxes)`).
		Scan(&accounts, &mailboxes, &uidvalidities)
	if err != nil {
		t.Fatal(err)
	}
	wantBoxes := (2*perNode + 1) * len(store.DefaultMailboxes)
	if accounts != 2*perNode+1 || mailboxes != wantBoxes || uidvalidities != wantBoxes {
		t.Fatalf("%d accounts, %d mailboxes with %d distinct UIDVALIDITYs; want %d, %d, %d",
			accounts, mailboxes, uidvalidities, 2*perNode+1, wantBoxes, wantBoxes)
	}
}

// TestDefaultMailboxes checks what createMailboxTx leaves for a new account,
// in the tables (the contract's DefaultMailboxes test needs Mailboxes, which
// lives elsewhere): every default mailbox with its special use, subscribed,
// UIDNEXT 1, a UIDVALIDITY of its own, and the account's MODSEQ bumped once
// per mailbox, each mailbox's HIGHESTMODSEQ the MODSEQ of its creation.
func TestDefaultMailboxes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := twoNodes(t)
	acc := mustAccount(t, s, "u@example.org", "pw")
	if want := uint64(1 + len(store.DefaultMailboxes)); acc.ModSeq != want {
		t.Errorf("account MODSEQ %d after creation; want %d", acc.ModSeq, want)
	}
	rows, err := s.pool.Query(ctx, `SELECT m.name, m.special_use, m.uidvalidity, m.uidnext, m.highest_modseq,
		EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name)
		FROM mailboxes m WHERE m.account_id = $1 ORDER BY m.id`, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	type box struct {
		name, special           string
		uv, uidnext, highModSeq int64
		subscribed              bool
	}
	boxes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (box, error) {
		var b box
		err := r.Scan(&b.name, &b.special, &b.uv, &b.uidnext, &b.highModSeq, &b.subscribed)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(boxes) != len(store.DefaultMailboxes) {
		t.Fatalf("%d mailboxes: %+v", len(boxes), boxes)
	}
	for i, d := range store.DefaultMailboxes {
		b := boxes[i]
		if b.name != d.Name || b.special != d.SpecialUse || b.uidnext != 1 || !b.subscribed || b.highModSeq != int64(i+2) {
			t.Errorf("mailbox %d: %+v; want %s %q, UIDNEXT 1, subscribed, HIGHESTMODSEQ %d", i, b, d.Name, d.SpecialUse, i+2)
		}
		if i > 0 && b.uv <= boxes[i-1].uv {
			t.Errorf("UIDVALIDITY %d of %s not after %d of %s", b.uv, b.name, boxes[i-1].uv, boxes[i-1].name)
		}
	}
}

// TestCreateMailboxTx: parents are created with the mailbox, in the same
// MODSEQ; a mailbox that exists is ErrExists and changes nothing; an unknown
// special use is ErrInvalidName.
func TestCreateMailboxTx(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s, _ := twoNodes(t)
	acc := mustAccount(t, s, "u@example.org", "pw")
	create := func(name, special string) (int64, error) {
		var id int64
		err := s.write(ctx, func(ctx context.Context, t *tx) error {
			var err error
			if _, err := lockAccount(ctx, t, acc.ID); err != nil {
				return err
			}
			id, err = createMailboxTx(ctx, t, acc.ID, name, special)
			return err
		})
		return id, err
	}
	id, err := create("a/b/c", "")
	if err != nil {
		t.Fatal(err)
	}
	var n, modseqs int
	if err := s.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT highest_modseq) FROM mailboxes
		WHERE account_id = $1 AND name IN ('a', 'a/b', 'a/b/c')`, acc.ID).Scan(&n, &modseqs); err != nil {
		t.Fatal(err)
	}
	if n != 3 || modseqs != 1 {
		t.Fatalf("a/b/c made %d mailboxes with %d MODSEQs; want 3 with one", n, modseqs)
	}
	before, err := s.AccountByID(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := create("a/b/c", ""); !errors.Is(err, store.ErrExists) {
		t.Fatalf("again: %v; want ErrExists", err)
	}
	if _, err := create("a/b", ""); !errors.Is(err, store.ErrExists) {
		t.Fatalf("parent again: %v; want ErrExists", err)
	}
	if _, err := create("x", `\Bogus`); !errors.Is(err, store.ErrInvalidName) {
		t.Fatalf("bad special use: %v; want ErrInvalidName", err)
	}
	after, err := s.AccountByID(ctx, acc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.ModSeq != before.ModSeq {
		t.Errorf("failed creations moved MODSEQ from %d to %d", before.ModSeq, after.ModSeq)
	}
	if _, err := create("a/b/d", ""); err != nil {
		t.Fatal(err)
	}
	var newID int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM mailboxes WHERE account_id = $1 AND name = 'a/b/d'`, acc.ID).Scan(&newID); err != nil || newID <= id {
		t.Fatalf("a/b/d id %d (%v); want one after %d", newID, err, id)
	}
	if _, err := create("INBOX/x", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := func() (int64, error) {
		var id int64
		err := s.write(ctx, func(ctx context.Context, t *tx) error {
			var err error
			id, err = createMailboxTx(ctx, t, acc.ID+1000, "y", "")
			return err
		})
		return id, err
	}(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mailbox of a missing account: %v; want ErrNotFound", err)
	}
}

// TestDirectoryAcrossNodes: a deleted alias or domain stops resolving on the
// node that deleted it at once, and on another node as soon as it hears the
// directory notification (well within the caches' one-second TTLs, which
// remain the bound should a notification be lost), even though that node
// had the answer cached.
func TestDirectoryAcrossNodes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	mustAccount(t, a, "u@example.org", "pw")
	if err := a.AddDomain(ctx, "other.example"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddAlias(ctx, "sales@example.org", []string{"u@example.org"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} { // cached on both
		if _, err := s.Resolve(ctx, "sales@example.org"); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.IsLocalDomain(ctx, "other.example"); err != nil || !ok {
			t.Fatalf("IsLocalDomain: %v, %v", ok, err)
		}
	}
	deleted := time.Now()
	if err := a.DeleteAlias(ctx, "sales@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Resolve(ctx, "sales@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Resolve on the deleting node: %v; want ErrNotFound at once", err)
	}
	if err := a.DeleteDomain(ctx, "other.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := a.IsLocalDomain(ctx, "other.example"); ok {
		t.Fatal("IsLocalDomain on the deleting node: still local")
	}
	bound := max(store.ResolveTTL, store.DomainTTL) + time.Second // slack for a loaded machine
	for {
		_, err := b.Resolve(ctx, "sales@example.org")
		ok, derr := b.IsLocalDomain(ctx, "other.example")
		if derr != nil {
			t.Fatal(derr)
		}
		if errors.Is(err, store.ErrNotFound) && !ok {
			// The NOTIFY on directoryChannel, not the caches' TTL: the
			// answers were cached just before the deletes, so waiting for
			// the TTL would take about a second.
			took := time.Since(deleted)
			t.Logf("other node saw the deletes after %v", took)
			if took > store.ResolveTTL/2 {
				t.Errorf("other node saw the deletes after %v: the TTL, not the notification", took)
			}
			break
		}
		if time.Since(deleted) > bound {
			t.Fatalf("other node after %v: Resolve %v, IsLocalDomain %v; want both gone within %v",
				time.Since(deleted), err, ok, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeleteDomainRacesAddAccount: a domain deleted on one node while
// accounts are added to it on another ends either with the domain and its
// accounts, or with neither; never accounts of a deleted domain.
func TestDeleteDomainRacesAddAccount(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	a, b := twoNodes(t)
	for i := range 10 {
		d := fmt.Sprintf("d%d.example", i)
		if err := a.AddDomain(ctx, d); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var addErr, delErr error
		wg.Add(2)
		go func() { defer wg.Done(); _, addErr = b.AddAccount(ctx, "u@"+d, "pw") }()
		go func() { defer wg.Done(); delErr = a.DeleteDomain(ctx, d) }()
		wg.Wait()
		switch {
		case addErr == nil && errors.Is(delErr, store.ErrNotPermitted):
		case delErr == nil && errors.Is(addErr, store.ErrNotFound):
		default:
			t.Fatalf("round %d: AddAccount %v, DeleteDomain %v; want one to win and the other refused", i, addErr, delErr)
		}
	}
}
