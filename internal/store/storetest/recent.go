package storetest

import (
	"testing"

	"gannet/internal/store"
)

func recentTests() []subtest {
	return []subtest{
		{"Claim", testRecentClaim},
	}
}

// testRecentClaim: a new mailbox's messages are recent to the first claim
// only; a claim covers what is below the caller's UIDNEXT and no more; the
// mark counts what no session has claimed.
func testRecentClaim(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	work := createMbox(t, s, a.ID, "Work")
	u := appendN(t, s, a.ID, work.ID, "r", 3)
	mark, n, err := s.RecentMark(ctx, a.ID, work.ID)
	noErr(t, "RecentMark", err)
	if mark != 1 || n != 3 {
		t.Fatalf("RecentMark of a new mailbox = %d, %d; want 1, 3", mark, n)
	}
	// A session whose view ends before the third message claims two.
	from, err := s.ClaimRecent(ctx, a.ID, work.ID, u[2])
	noErr(t, "ClaimRecent", err)
	if from != 1 {
		t.Errorf("first claim from %d, want 1", from)
	}
	// Another session, seeing all three, gets only the third.
	from, err = s.ClaimRecent(ctx, a.ID, work.ID, u[2]+1)
	noErr(t, "ClaimRecent", err)
	if from != u[2] {
		t.Errorf("second claim from %d, want %d", from, u[2])
	}
	// A third gets nothing, and an older view moves nothing back.
	for _, below := range []uint32{u[2] + 1, u[0]} {
		if from, err := s.ClaimRecent(ctx, a.ID, work.ID, below); err != nil || from != u[2]+1 {
			t.Errorf("claim below %d = %d, %v; want %d (nothing)", below, from, err, u[2]+1)
		}
	}
	mark, n, err = s.RecentMark(ctx, a.ID, work.ID)
	noErr(t, "RecentMark", err)
	if mark != u[2]+1 || n != 0 {
		t.Errorf("RecentMark after the claims = %d, %d; want %d, 0", mark, n, u[2]+1)
	}
	appendN(t, s, a.ID, work.ID, "later", 1)
	if _, n, _ := s.RecentMark(ctx, a.ID, work.ID); n != 1 {
		t.Errorf("RecentMark after a new message counts %d, want 1", n)
	}
	_, err = s.ClaimRecent(ctx, a.ID, work.ID+1000, 10)
	wantErr(t, "ClaimRecent of an unknown mailbox", err, store.ErrNotFound)
	b := account(t, s, "bob@example.org")
	_, _, err = s.RecentMark(ctx, b.ID, work.ID)
	wantErr(t, "RecentMark of another account's mailbox", err, store.ErrNotFound)
}
