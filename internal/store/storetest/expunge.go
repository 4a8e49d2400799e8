package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

func expungeTests() []subtest {
	return []subtest{
		{"OnlyDeleted", testExpungeOnlyDeleted},
		{"ExpungeUIDs", testExpungeUIDs},
		{"Changes", testChanges},
	}
}

func testExpungeOnlyDeleted(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	flags := [][]string{{store.FlagDeleted}, nil, {store.FlagDeleted, store.FlagSeen}, {store.FlagDeleted}, {store.FlagSeen}}
	var u []uint32
	for i, f := range flags {
		u = append(u, appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: fmt.Sprintf("exp %d", i)}.Bytes(), f, time.Time{}))
	}
	// UID EXPUNGE: only \Deleted messages inside the set.
	got, err := s.Expunge(ctx, a.ID, inbox.ID, set(u[2], u[1]))
	noErr(t, "Expunge(set)", err)
	wantUIDs(t, "Expunge(u2,u1)", got, []uint32{u[2]})
	got, err = s.Expunge(ctx, a.ID, inbox.ID, set(u[4]))
	noErr(t, "Expunge(undeleted)", err)
	wantUIDs(t, "Expunge(u4 without \\Deleted)", got, nil)
	got, err = s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge(all)", err)
	wantUIDs(t, "Expunge(nil)", slices.Sorted(slices.Values(got)), []uint32{u[0], u[3]})
	wantUIDs(t, "remaining", uidsOf(list(t, s, a.ID, inbox.ID, nil)), []uint32{u[1], u[4]})
	if mb := mbox(t, s, a.ID, "INBOX"); mb.Messages != 2 || mb.Deleted != 0 {
		t.Errorf("after expunge: %d messages %d deleted, want 2 0", mb.Messages, mb.Deleted)
	}
	// Nothing left to expunge: no change, no modseq bump.
	ms := acctModSeq(t, s, a.ID)
	got, err = s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge(nothing)", err)
	wantUIDs(t, "Expunge with nothing \\Deleted", got, nil)
	if now := acctModSeq(t, s, a.ID); now != ms {
		t.Errorf("Expunge of nothing bumped ModSeq %d → %d", ms, now)
	}
	_, err = s.Expunge(ctx, a.ID, inbox.ID+1000, nil)
	wantErr(t, "Expunge unknown mailbox", err, store.ErrNotFound)
}

func testExpungeUIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "pop", 4)
	storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsAdd, []string{store.FlagDeleted})
	got, err := s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{u[3], u[1], u[3] + 100})
	noErr(t, "ExpungeUIDs", err)
	wantUIDs(t, "ExpungeUIDs (flags ignored, missing UIDs skipped)", slices.Sorted(slices.Values(got)), []uint32{u[1], u[3]})
	wantUIDs(t, "remaining", uidsOf(list(t, s, a.ID, inbox.ID, nil)), []uint32{u[0], u[2]})
	// Already gone: nothing reported.
	got, err = s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{u[1]})
	noErr(t, "ExpungeUIDs again", err)
	wantUIDs(t, "ExpungeUIDs of an expunged UID", got, nil)
	got, err = s.ExpungeUIDs(ctx, a.ID, inbox.ID, nil)
	noErr(t, "ExpungeUIDs(nil)", err)
	wantUIDs(t, "ExpungeUIDs(nil) removes nothing", got, nil)
	if n := len(list(t, s, a.ID, inbox.ID, nil)); n != 2 {
		t.Errorf("%d messages left, want 2", n)
	}
}

// testChanges checks Changes(since) precisely at every interesting MODSEQ.
func testChanges(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	other := mbox(t, s, a.ID, "Archive")
	start := acctModSeq(t, s, a.ID)
	u := appendN(t, s, a.ID, inbox.ID, "ch", 4)
	ms := func() uint64 { return acctModSeq(t, s, a.ID) }
	appended := ms()
	storeFlags(t, s, a.ID, inbox.ID, set(u[1]), store.FlagsAdd, []string{store.FlagSeen})
	flagged := ms()
	_, err := s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{u[2]})
	noErr(t, "ExpungeUIDs u2", err)
	exp2 := ms()
	appendN(t, s, a.ID, other.ID, "noise", 1) // another mailbox's changes do not show
	storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsAdd, []string{store.FlagDeleted})
	_, err = s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge u0", err)
	exp0 := ms()
	storeFlags(t, s, a.ID, inbox.ID, set(u[3]), store.FlagsAdd, []string{"late"})
	last := ms()
	modseqOf := func(uid uint32) uint64 { return one(t, s, a.ID, inbox.ID, uid).ModSeq }
	m1, m3 := modseqOf(u[1]), modseqOf(u[3])

	cases := []struct {
		since    uint64
		changed  []uint32
		vanished []uint32
	}{
		{0, []uint32{u[1], u[3]}, []uint32{u[0], u[2]}},
		{start, []uint32{u[1], u[3]}, []uint32{u[0], u[2]}},
		{appended, []uint32{u[1], u[3]}, []uint32{u[0], u[2]}},
		{flagged - 1, []uint32{u[1], u[3]}, []uint32{u[0], u[2]}},
		{flagged, []uint32{u[3]}, []uint32{u[0], u[2]}},
		{exp2 - 1, []uint32{u[3]}, []uint32{u[0], u[2]}},
		{exp2, []uint32{u[3]}, []uint32{u[0]}},
		{exp0 - 1, []uint32{u[3]}, []uint32{u[0]}},
		{exp0, []uint32{u[3]}, nil},
		{last - 1, []uint32{u[3]}, nil},
		{last, nil, nil},
		{last + 100, nil, nil},
	}
	for _, c := range cases {
		ch, err := s.Changes(ctx, a.ID, inbox.ID, c.since)
		noErr(t, fmt.Sprintf("Changes(%d)", c.since), err)
		wantUIDs(t, fmt.Sprintf("Changes(%d).Changed", c.since), slices.Sorted(slices.Values(uidsOf(ch.Changed))), c.changed)
		wantUIDs(t, fmt.Sprintf("Changes(%d).Vanished", c.since), ch.Vanished, c.vanished)
		if ch.HighestModSeq != last {
			t.Errorf("Changes(%d).HighestModSeq = %d, want %d", c.since, ch.HighestModSeq, last)
		}
		for _, m := range ch.Changed {
			want := map[uint32]uint64{u[1]: m1, u[3]: m3}[m.UID]
			if m.ModSeq != want || m.ModSeq <= c.since || m.Parsed != nil {
				t.Errorf("Changes(%d): message %d ModSeq %d (Parsed %v), want %d", c.since, m.UID, m.ModSeq, m.Parsed != nil, want)
			}
			if m.UID == u[1] && !sameFlags(m.Flags, []string{store.FlagSeen}) {
				t.Errorf("Changes: message %d flags %q, want \\Seen", m.UID, m.Flags)
			}
		}
	}
	// A mailbox deleted and re-created does not inherit tombstones.
	work := createMbox(t, s, a.ID, "Work")
	wu := appendN(t, s, a.ID, work.ID, "w", 2)
	_, err = s.ExpungeUIDs(ctx, a.ID, work.ID, wu[:1])
	noErr(t, "ExpungeUIDs", err)
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, a.ID, "Work"))
	work2 := createMbox(t, s, a.ID, "Work")
	ch, err := s.Changes(ctx, a.ID, work2.ID, 0)
	noErr(t, "Changes(new Work)", err)
	if len(ch.Changed) != 0 || len(ch.Vanished) != 0 {
		t.Errorf("re-created mailbox Changes(0) = changed %v vanished %v, want nothing", uidsOf(ch.Changed), ch.Vanished)
	}
}
