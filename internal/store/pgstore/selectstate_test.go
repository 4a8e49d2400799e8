package pgstore

import (
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// TestSelectMailboxGaps: UIDs below UIDNEXT that no message ever had (an
// import keeping its source's UIDs) make store.DenseUIDs refuse, and
// SelectMailbox reads the UIDs from the messages instead.
func TestSelectMailboxGaps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	a := storetest.NewAccount(t, s, "alice@example.org", "pw")
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for i := range 6 {
		if i == 2 || i == 4 {
			// A gap of three UIDs, as an import leaves.
			if _, err := s.pool.Exec(ctx, `UPDATE mailboxes SET uidnext = uidnext + 3 WHERE id = $1`, mb.ID); err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.Append(ctx, a.ID, mb.ID, storetest.Msg{Subject: "gap", Body: string(rune('a' + i))}.Bytes(), nil, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, r.UID)
	}
	st, err := s.SelectMailbox(ctx, a.ID, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint32
	for _, r := range st.UIDs {
		for u := r.Lo; u <= r.Hi; u++ {
			got = append(got, u)
		}
	}
	if !slices.Equal(got, want) || len(st.UIDs) != 3 {
		t.Fatalf("UIDs %v (ranges %v), want %v in 3 runs", got, st.UIDs, want)
	}
	if _, ok := store.DenseUIDs(want[len(want)-1]+1, nil, int64(len(want))); ok {
		t.Fatal("DenseUIDs accepted a mailbox with gaps")
	}
}
