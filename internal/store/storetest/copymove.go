package storetest

import (
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

func copyMoveTests() []subtest {
	return []subtest{
		{"Copy", testCopy},
		{"CopySameMailbox", testCopySameMailbox},
		{"MoveSameMailbox", testMoveSameMailbox},
		{"Move", testMove},
		{"Errors", testCopyMoveErrors},
	}
}

// flaggedSource fills mailbox mb with 4 messages with distinct flags and dates.
func flaggedSource(t *testing.T, s store.Store, acct, mb int64) ([]uint32, [][]string) {
	t.Helper()
	flags := [][]string{{store.FlagSeen}, {store.FlagFlagged, "work"}, nil, {store.FlagSeen, store.FlagAnswered, "$Forwarded"}}
	var uids []uint32
	for i, f := range flags {
		raw := Msg{Subject: "src " + string(rune('A'+i)), Body: "source message\n"}.Bytes()
		uids = append(uids, appendMsg(t, s, acct, mb, raw, f, time.Date(2024, 1, 10+i, 8, 0, 0, 0, time.UTC)))
	}
	return uids, flags
}

// checkCopied verifies that each destination message is a copy of its source.
func checkCopied(t *testing.T, s store.Store, acct int64, src map[uint32]store.Message, dstMb int64, r *store.CopyResult) {
	t.Helper()
	if len(r.SrcUIDs) != len(r.DstUIDs) {
		t.Fatalf("CopyResult has %d source and %d destination UIDs", len(r.SrcUIDs), len(r.DstUIDs))
	}
	for i := range r.SrcUIDs {
		sm, ok := src[r.SrcUIDs[i]]
		if !ok {
			t.Errorf("CopyResult source UID %d was not in the source", r.SrcUIDs[i])
			continue
		}
		dm := one(t, s, acct, dstMb, r.DstUIDs[i])
		if dm.BlobID != sm.BlobID || dm.Size != sm.Size || !dm.InternalDate.Equal(sm.InternalDate) || !sameFlags(dm.Flags, sm.Flags) {
			t.Errorf("copy %d → %d: blob %q size %d date %v flags %q, want %q %d %v %q",
				r.SrcUIDs[i], r.DstUIDs[i], dm.BlobID, dm.Size, dm.InternalDate, dm.Flags, sm.BlobID, sm.Size, sm.InternalDate, sm.Flags)
		}
	}
}

func byUID(msgs []store.Message) map[uint32]store.Message {
	m := map[uint32]store.Message{}
	for _, x := range msgs {
		m[x.UID] = x
	}
	return m
}

func testCopy(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	src := createMbox(t, s, a.ID, "Src")
	dst := createMbox(t, s, a.ID, "Dst")
	appendN(t, s, a.ID, dst.ID, "already", 2) // so destination UIDs differ from source UIDs
	u, _ := flaggedSource(t, s, a.ID, src.ID)
	before := list(t, s, a.ID, src.ID, nil)
	dstBefore := mboxByID(t, s, a.ID, dst.ID)

	r, err := s.Copy(ctx, a.ID, src.ID, store.UIDSet{{Lo: u[0], Hi: u[0]}, {Lo: u[2], Hi: 0}}, dst.ID)
	noErr(t, "Copy", err)
	if r.UIDValidity != dstBefore.UIDValidity {
		t.Errorf("CopyResult.UIDValidity %d, want the destination's %d", r.UIDValidity, dstBefore.UIDValidity)
	}
	wantUIDs(t, "CopyResult.SrcUIDs", r.SrcUIDs, []uint32{u[0], u[2], u[3]})
	n := dstBefore.UIDNext
	wantUIDs(t, "CopyResult.DstUIDs", r.DstUIDs, []uint32{n, n + 1, n + 2})
	checkCopied(t, s, a.ID, byUID(before), dst.ID, r)
	if after := list(t, s, a.ID, src.ID, nil); !slices.EqualFunc(after, before, func(x, y store.Message) bool {
		return x.UID == y.UID && x.ModSeq == y.ModSeq && sameFlags(x.Flags, y.Flags)
	}) {
		t.Errorf("Copy changed the source: %+v → %+v", before, after)
	}
	if mb := mboxByID(t, s, a.ID, dst.ID); mb.Messages != 5 || mb.UIDNext != n+3 {
		t.Errorf("destination has %d messages UIDNEXT %d, want 5 %d", mb.Messages, mb.UIDNext, n+3)
	}

	// An unordered UID set still yields a consistent mapping.
	r, err = s.Copy(ctx, a.ID, src.ID, store.UIDSet{{Lo: u[3], Hi: u[3]}, {Lo: u[1], Hi: u[1]}}, dst.ID)
	noErr(t, "Copy unordered", err)
	if got := slices.Sorted(slices.Values(r.SrcUIDs)); !slices.Equal(got, []uint32{u[1], u[3]}) {
		t.Errorf("CopyResult.SrcUIDs = %v, want %d and %d", r.SrcUIDs, u[1], u[3])
	}
	if !slices.IsSorted(r.DstUIDs) {
		t.Errorf("CopyResult.DstUIDs %v not ascending", r.DstUIDs)
	}
	checkCopied(t, s, a.ID, byUID(before), dst.ID, r)

	// Nothing matches: empty result, nothing copied.
	r, err = s.Copy(ctx, a.ID, src.ID, store.UIDSet{{Lo: u[3] + 1, Hi: 0}}, dst.ID)
	noErr(t, "Copy of no messages", err)
	if len(r.SrcUIDs) != 0 || len(r.DstUIDs) != 0 {
		t.Errorf("Copy of missing UIDs = %+v", r)
	}
	if mb := mboxByID(t, s, a.ID, dst.ID); mb.Messages != 7 {
		t.Errorf("destination has %d messages, want 7", mb.Messages)
	}
}

func testCopySameMailbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u, _ := flaggedSource(t, s, a.ID, inbox.ID)
	before := list(t, s, a.ID, inbox.ID, nil)
	next := mboxByID(t, s, a.ID, inbox.ID).UIDNext
	r, err := s.Copy(ctx, a.ID, inbox.ID, nil, inbox.ID)
	noErr(t, "Copy into the same mailbox", err)
	wantUIDs(t, "SrcUIDs", r.SrcUIDs, u)
	wantUIDs(t, "DstUIDs", r.DstUIDs, []uint32{next, next + 1, next + 2, next + 3})
	checkCopied(t, s, a.ID, byUID(before), inbox.ID, r)
	if n := len(list(t, s, a.ID, inbox.ID, nil)); n != 8 {
		t.Errorf("INBOX has %d messages after copying into itself, want 8", n)
	}
}

// testMoveSameMailbox: RFC 6851 3.3 allows MOVE into the selected mailbox
// itself (Dovecot and Cyrus do it): the messages get new UIDs at the end
// and the old ones are expunged, as for any other target.
func testMoveSameMailbox(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u, _ := flaggedSource(t, s, a.ID, inbox.ID)
	before := list(t, s, a.ID, inbox.ID, nil)
	mb := mboxByID(t, s, a.ID, inbox.ID)
	since := acctModSeq(t, s, a.ID)
	r, err := s.Move(ctx, a.ID, inbox.ID, set(u[0], u[2]), inbox.ID)
	noErr(t, "Move into the same mailbox", err)
	wantUIDs(t, "SrcUIDs", r.SrcUIDs, []uint32{u[0], u[2]})
	wantUIDs(t, "DstUIDs", r.DstUIDs, []uint32{mb.UIDNext, mb.UIDNext + 1})
	checkCopied(t, s, a.ID, byUID(before), inbox.ID, r)
	wantUIDs(t, "INBOX after Move into itself", uidsOf(list(t, s, a.ID, inbox.ID, nil)),
		[]uint32{u[1], u[3], mb.UIDNext, mb.UIDNext + 1})
	after := mboxByID(t, s, a.ID, inbox.ID)
	if after.Messages != mb.Messages || after.UIDNext != mb.UIDNext+2 {
		t.Errorf("INBOX after Move into itself: %d messages, UIDNEXT %d; want %d, %d",
			after.Messages, after.UIDNext, mb.Messages, mb.UIDNext+2)
	}
	ch, err := s.Changes(ctx, a.ID, inbox.ID, since)
	noErr(t, "Changes", err)
	wantUIDs(t, "Vanished", ch.Vanished, []uint32{u[0], u[2]})
	if got := slices.Sorted(slices.Values(uidsOf(ch.Changed))); !slices.Equal(got, r.DstUIDs) {
		t.Errorf("Changed after Move into itself = %v, want %v", got, r.DstUIDs)
	}
}

func testMove(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	src := createMbox(t, s, a.ID, "Src")
	dst := createMbox(t, s, a.ID, "Dst")
	appendN(t, s, a.ID, dst.ID, "already", 1)
	u, _ := flaggedSource(t, s, a.ID, src.ID)
	before := list(t, s, a.ID, src.ID, nil)
	since := acctModSeq(t, s, a.ID)
	dstBefore := mboxByID(t, s, a.ID, dst.ID)

	r, err := s.Move(ctx, a.ID, src.ID, set(u[1], u[3]), dst.ID)
	noErr(t, "Move", err)
	if r.UIDValidity != dstBefore.UIDValidity {
		t.Errorf("Move UIDValidity %d, want %d", r.UIDValidity, dstBefore.UIDValidity)
	}
	wantUIDs(t, "Move SrcUIDs", r.SrcUIDs, []uint32{u[1], u[3]})
	wantUIDs(t, "Move DstUIDs", r.DstUIDs, []uint32{dstBefore.UIDNext, dstBefore.UIDNext + 1})
	checkCopied(t, s, a.ID, byUID(before), dst.ID, r)
	wantUIDs(t, "source after Move", uidsOf(list(t, s, a.ID, src.ID, nil)), []uint32{u[0], u[2]})
	if mb := mboxByID(t, s, a.ID, dst.ID); mb.Messages != 3 {
		t.Errorf("destination has %d messages, want 3", mb.Messages)
	}
	ch, err := s.Changes(ctx, a.ID, src.ID, since)
	noErr(t, "Changes(source)", err)
	wantUIDs(t, "source Vanished after Move", ch.Vanished, []uint32{u[1], u[3]})
	if len(ch.Changed) != 0 {
		t.Errorf("source Changed after Move = %v, want none", uidsOf(ch.Changed))
	}
	ch, err = s.Changes(ctx, a.ID, dst.ID, since)
	noErr(t, "Changes(destination)", err)
	if got := slices.Sorted(slices.Values(uidsOf(ch.Changed))); !slices.Equal(got, r.DstUIDs) {
		t.Errorf("destination Changed after Move = %v, want %v", got, r.DstUIDs)
	}
	// The moved messages' bytes are intact.
	for _, uid := range r.DstUIDs {
		m := one(t, s, a.ID, dst.ID, uid)
		rc, err := s.Open(ctx, m.BlobID)
		if b := readAll(t, rc, err, "Open moved"); int64(len(b)) != m.Size {
			t.Errorf("moved message %d: %d bytes, Size %d", uid, len(b), m.Size)
		}
	}
}

func testCopyMoveErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "err", 2)
	_, err := s.Copy(ctx, a.ID, inbox.ID, nil, inbox.ID+1000)
	wantErr(t, "Copy to unknown mailbox", err, store.ErrNotFound)
	_, err = s.Move(ctx, a.ID, inbox.ID, nil, inbox.ID+1000)
	wantErr(t, "Move to unknown mailbox", err, store.ErrNotFound)
	_, err = s.Copy(ctx, a.ID, inbox.ID+1000, nil, inbox.ID)
	wantErr(t, "Copy from unknown mailbox", err, store.ErrNotFound)
	wantUIDs(t, "INBOX after failed Move", uidsOf(list(t, s, a.ID, inbox.ID, nil)), u)
}
