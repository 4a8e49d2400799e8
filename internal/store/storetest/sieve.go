package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/sieve"
	"gannet/internal/store"
)

// sieveTests: store.SieveStore, the accounts' Sieve scripts and the seen
// table of vacation and duplicate.
func sieveTests() []subtest {
	return []subtest{
		{"PutGet", testSievePutGet},
		{"Invalid", testSieveInvalid},
		{"Activate", testSieveActivate},
		{"RenameDelete", testSieveRenameDelete},
		{"Bound", testSieveBound},
		{"AccountGone", testSieveAccountGone},
		{"Seen", testSieveSeen},
		{"SeenConcurrent", testSieveSeenConcurrent},
	}
}

const sieveOK = "require \"fileinto\";\r\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\r\n"

func putScript(t *testing.T, s store.Store, accountID int64, name, src string) {
	t.Helper()
	if err := s.PutSieveScript(context.Background(), accountID, name, []byte(src)); err != nil {
		t.Fatalf("PutSieveScript(%s): %v", name, err)
	}
}

func testSievePutGet(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	putScript(t, s, a.ID, "main", sieveOK)
	putScript(t, s, a.ID, "b-other", "keep;")
	sc, err := s.SieveScript(ctx, a.ID, "main")
	noErr(t, "SieveScript", err)
	if string(sc.Content) != sieveOK || sc.Size != int64(len(sieveOK)) || sc.Active || sc.Name != "main" {
		t.Fatalf("SieveScript = %+v", sc)
	}
	// Replace.
	putScript(t, s, a.ID, "main", "discard;")
	sc, err = s.SieveScript(ctx, a.ID, "main")
	noErr(t, "SieveScript", err)
	if string(sc.Content) != "discard;" {
		t.Fatalf("after replace: %q", sc.Content)
	}
	list, err := s.SieveScripts(ctx, a.ID)
	noErr(t, "SieveScripts", err)
	if len(list) != 2 || list[0].Name != "b-other" || list[1].Name != "main" || list[1].Size != 8 || len(list[1].Content) != 0 {
		t.Fatalf("SieveScripts = %+v", list)
	}
	_, err = s.SieveScript(ctx, a.ID, "nope")
	wantErr(t, "SieveScript(nope)", err, store.ErrNotFound)
	// Another account sees none of them.
	b := NewAccount(t, s, "other@example.org", "pw")
	list, err = s.SieveScripts(ctx, b.ID)
	noErr(t, "SieveScripts(other)", err)
	if len(list) != 0 {
		t.Fatalf("other account lists %+v", list)
	}
	_, err = s.SieveScript(ctx, b.ID, "main")
	wantErr(t, "SieveScript(other, main)", err, store.ErrNotFound)
}

func testSieveInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	err := s.PutSieveScript(ctx, a.ID, "bad", []byte("keep;\nif true {\n  fileinto \"x\";\n}\n"))
	wantErr(t, "put without require", err, store.ErrInvalidScript)
	var se *sieve.Error
	if !errors.As(err, &se) || se.Pos.Line != 3 {
		t.Fatalf("error %v: want a *sieve.Error at line 3", err)
	}
	if !strings.Contains(err.Error(), "bad:3:") {
		t.Fatalf("error text %q lacks line:col", err)
	}
	for _, name := range []string{"", "a\x00b", "tab\there", strings.Repeat("n", store.MaxSieveNameLen+1), "\xff"} {
		err := s.PutSieveScript(ctx, a.ID, name, []byte("keep;"))
		wantErr(t, fmt.Sprintf("put name %q", name), err, store.ErrInvalidScript)
	}
	err = s.PutSieveScript(ctx, a.ID+1000, "x", []byte("keep;"))
	wantErr(t, "put for a missing account", err, store.ErrNotFound)
	list, err := s.SieveScripts(ctx, a.ID)
	noErr(t, "SieveScripts", err)
	if len(list) != 0 {
		t.Fatalf("refused scripts were stored: %+v", list)
	}
}

func testSieveActivate(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	_, err := s.ActiveSieveScript(ctx, a.ID)
	wantErr(t, "ActiveSieveScript before any", err, store.ErrNotFound)
	putScript(t, s, a.ID, "one", "keep;")
	putScript(t, s, a.ID, "two", "discard;")
	noErr(t, "activate one", s.ActivateSieveScript(ctx, a.ID, "one"))
	noErr(t, "activate two", s.ActivateSieveScript(ctx, a.ID, "two"))
	sc, err := s.ActiveSieveScript(ctx, a.ID)
	noErr(t, "ActiveSieveScript", err)
	if sc.Name != "two" || string(sc.Content) != "discard;" || !sc.Active {
		t.Fatalf("active = %+v", sc)
	}
	list, _ := s.SieveScripts(ctx, a.ID)
	if len(list) != 2 || list[0].Active || !list[1].Active {
		t.Fatalf("one active at most: %+v", list)
	}
	// Replacing the active script keeps it active.
	putScript(t, s, a.ID, "two", "keep;")
	sc, err = s.ActiveSieveScript(ctx, a.ID)
	noErr(t, "ActiveSieveScript after replace", err)
	if sc.Name != "two" || string(sc.Content) != "keep;" {
		t.Fatalf("active after replace = %+v", sc)
	}
	wantErr(t, "activate missing", s.ActivateSieveScript(ctx, a.ID, "nope"), store.ErrNotFound)
	if sc, err := s.ActiveSieveScript(ctx, a.ID); err != nil || sc.Name != "two" {
		t.Fatalf("a failed activate changed the active script: %v %v", sc, err)
	}
	noErr(t, "deactivate", s.ActivateSieveScript(ctx, a.ID, ""))
	_, err = s.ActiveSieveScript(ctx, a.ID)
	wantErr(t, "ActiveSieveScript after deactivate", err, store.ErrNotFound)
}

func testSieveRenameDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	putScript(t, s, a.ID, "one", "keep;")
	putScript(t, s, a.ID, "two", "discard;")
	noErr(t, "activate", s.ActivateSieveScript(ctx, a.ID, "one"))
	wantErr(t, "rename onto existing", s.RenameSieveScript(ctx, a.ID, "one", "two"), store.ErrExists)
	wantErr(t, "rename missing", s.RenameSieveScript(ctx, a.ID, "nope", "three"), store.ErrNotFound)
	wantErr(t, "rename to bad name", s.RenameSieveScript(ctx, a.ID, "one", ""), store.ErrInvalidScript)
	noErr(t, "rename", s.RenameSieveScript(ctx, a.ID, "one", "uno"))
	sc, err := s.ActiveSieveScript(ctx, a.ID)
	noErr(t, "ActiveSieveScript", err)
	if sc.Name != "uno" {
		t.Fatalf("renamed active script = %+v", sc)
	}
	wantErr(t, "delete active", s.DeleteSieveScript(ctx, a.ID, "uno"), store.ErrNotPermitted)
	wantErr(t, "delete missing", s.DeleteSieveScript(ctx, a.ID, "nope"), store.ErrNotFound)
	noErr(t, "delete", s.DeleteSieveScript(ctx, a.ID, "two"))
	_, err = s.SieveScript(ctx, a.ID, "two")
	wantErr(t, "deleted script", err, store.ErrNotFound)
	noErr(t, "deactivate", s.ActivateSieveScript(ctx, a.ID, ""))
	noErr(t, "delete once inactive", s.DeleteSieveScript(ctx, a.ID, "uno"))
}

func testSieveBound(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	for i := range store.MaxSieveScripts {
		putScript(t, s, a.ID, fmt.Sprintf("s%03d", i), "keep;")
	}
	err := s.PutSieveScript(ctx, a.ID, "one-more", []byte("keep;"))
	wantErr(t, "put beyond the bound", err, store.ErrOverQuota)
	// Replacing one is still allowed.
	putScript(t, s, a.ID, "s000", "discard;")
}

func testSieveAccountGone(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	putScript(t, s, a.ID, "one", "keep;")
	noErr(t, "activate", s.ActivateSieveScript(ctx, a.ID, "one"))
	now := time.Unix(1_800_000_000, 0)
	_, err := s.MarkSieveSeen(ctx, store.SeenMark{AccountID: a.ID, Kind: store.SeenVacation, Key: "k", Now: now, Expires: now.Add(time.Hour)})
	noErr(t, "MarkSieveSeen", err)
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, a.Address))
	b := NewAccount(t, s, "sieve@example.org", "pw")
	if list, err := s.SieveScripts(ctx, b.ID); err != nil || len(list) != 0 {
		t.Fatalf("a new account of the same address inherits scripts: %v %v", list, err)
	}
	if seen, err := s.SieveSeen(ctx, a.ID, store.SeenVacation, "k", now); err != nil || seen {
		t.Fatalf("seen records outlive their account: %v %v", seen, err)
	}
}

func testSieveSeen(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	b := NewAccount(t, s, "other@example.org", "pw")
	now := time.Unix(1_800_000_000, 0)
	mark := func(acc int64, kind, key string, at time.Time, d time.Duration, refresh bool) bool {
		t.Helper()
		seen, err := s.MarkSieveSeen(ctx, store.SeenMark{AccountID: acc, Kind: kind, Key: key, Now: at, Expires: at.Add(d), Refresh: refresh})
		noErr(t, "MarkSieveSeen", err)
		return seen
	}
	isSeen := func(acc int64, kind, key string, at time.Time) bool {
		t.Helper()
		seen, err := s.SieveSeen(ctx, acc, kind, key, at)
		noErr(t, "SieveSeen", err)
		return seen
	}
	if isSeen(a.ID, store.SeenVacation, "x", now) {
		t.Fatal("seen before any mark")
	}
	if mark(a.ID, store.SeenVacation, "x", now, time.Hour, false) {
		t.Fatal("first mark reports seen")
	}
	if !mark(a.ID, store.SeenVacation, "x", now.Add(time.Minute), time.Hour, false) {
		t.Fatal("second mark within the period reports unseen")
	}
	if !isSeen(a.ID, store.SeenVacation, "x", now.Add(59*time.Minute)) {
		t.Fatal("not seen within the period")
	}
	// Without Refresh the first expiry stands: an hour after the first mark.
	if isSeen(a.ID, store.SeenVacation, "x", now.Add(time.Hour)) {
		t.Fatal("still seen after expiry")
	}
	// Kinds and accounts are separate.
	if isSeen(a.ID, store.SeenDuplicate, "x", now) || isSeen(b.ID, store.SeenVacation, "x", now) {
		t.Fatal("a record leaks across kinds or accounts")
	}
	// Refresh moves the expiry (duplicate :last).
	mark(a.ID, store.SeenDuplicate, "d", now, time.Hour, true)
	if !mark(a.ID, store.SeenDuplicate, "d", now.Add(50*time.Minute), time.Hour, true) {
		t.Fatal("refresh mark reports unseen")
	}
	if !isSeen(a.ID, store.SeenDuplicate, "d", now.Add(100*time.Minute)) {
		t.Fatal("refresh did not move the expiry")
	}
	// An expired record counts as new and is marked again.
	if mark(a.ID, store.SeenVacation, "x", now.Add(2*time.Hour), time.Hour, false) {
		t.Fatal("expired record reported as seen")
	}
	if !isSeen(a.ID, store.SeenVacation, "x", now.Add(2*time.Hour+time.Minute)) {
		t.Fatal("expired record not marked again")
	}
	noErr(t, "ForgetSieveSeen", s.ForgetSieveSeen(ctx, a.ID, store.SeenVacation, "x"))
	if isSeen(a.ID, store.SeenVacation, "x", now.Add(2*time.Hour+time.Minute)) {
		t.Fatal("seen after forget")
	}
}

// testSieveSeenConcurrent: of concurrent marks of one new key exactly one
// reports "new" (two deliveries of one message must not both pass the
// duplicate test).
func testSieveSeenConcurrent(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := NewAccount(t, s, "sieve@example.org", "pw")
	now := time.Unix(1_800_000_000, 0)
	const n = 8
	var wg sync.WaitGroup
	fresh := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen, err := s.MarkSieveSeen(ctx, store.SeenMark{AccountID: a.ID, Kind: store.SeenDuplicate, Key: "same", Now: now, Expires: now.Add(time.Hour)})
			fresh[i], errs[i] = !seen, err
		}()
	}
	wg.Wait()
	count := 0
	for i := range n {
		noErr(t, "MarkSieveSeen", errs[i])
		if fresh[i] {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d of %d concurrent marks saw the key as new, want 1", count, n)
	}
}
