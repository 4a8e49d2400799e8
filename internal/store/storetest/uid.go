package storetest

import (
	"testing"
	"time"

	"gannet/internal/store"
)

func uidTests() []subtest {
	return []subtest{
		{"NeverReused", testUIDNeverReused},
		{"UIDValidityFixed", testUIDValidityFixed},
	}
}

func testUIDNeverReused(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	next := inbox.UIDNext
	u := appendN(t, s, a.ID, inbox.ID, "uid", 3)
	for i, uid := range u {
		if i > 0 && uid <= u[i-1] {
			t.Fatalf("UIDs not strictly increasing: %v", u)
		}
	}
	if u[0] != next {
		t.Errorf("first UID %d, want the UIDNEXT %d announced before", u[0], next)
	}
	if got := mbox(t, s, a.ID, "INBOX").UIDNext; got != u[2]+1 {
		t.Errorf("UIDNEXT after 3 appends = %d, want %d", got, u[2]+1)
	}
	exp, err := s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{u[2]})
	noErr(t, "ExpungeUIDs", err)
	wantUIDs(t, "ExpungeUIDs result", exp, []uint32{u[2]})
	if got := mbox(t, s, a.ID, "INBOX").UIDNext; got != u[2]+1 {
		t.Errorf("UIDNEXT after expunging the last message = %d, want %d (unchanged)", got, u[2]+1)
	}
	u4 := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "after expunge"}.Bytes(), nil, time.Time{})
	if u4 <= u[2] {
		t.Errorf("UID after expunging UID %d = %d: reused or went backwards", u[2], u4)
	}
	// Expunge everything: still no reuse.
	_, err = s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{u[0], u[1], u4})
	noErr(t, "ExpungeUIDs all", err)
	u5 := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "empty mailbox"}.Bytes(), nil, time.Time{})
	if u5 <= u4 {
		t.Errorf("UID after emptying the mailbox = %d, want > %d", u5, u4)
	}
	// Messages moved out leave their UIDs used too.
	work := createMbox(t, s, a.ID, "Work")
	_, err = s.Move(ctx, a.ID, inbox.ID, set(u5), work.ID)
	noErr(t, "Move", err)
	u6 := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "after move"}.Bytes(), nil, time.Time{})
	if u6 <= u5 {
		t.Errorf("UID after moving UID %d out = %d", u5, u6)
	}
}

func testUIDValidityFixed(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	mb := createMbox(t, s, a.ID, "Box")
	other := createMbox(t, s, a.ID, "Other")
	v := mb.UIDValidity
	check := func(what string) {
		t.Helper()
		if got := mboxByID(t, s, a.ID, mb.ID).UIDValidity; got != v {
			t.Errorf("UIDVALIDITY changed by %s: %d → %d", what, v, got)
		}
	}
	u := appendN(t, s, a.ID, mb.ID, "v", 3)
	check("Append")
	_, err := s.StoreFlags(ctx, a.ID, mb.ID, nil, store.FlagsAdd, []string{store.FlagDeleted}, 0)
	noErr(t, "StoreFlags", err)
	check("StoreFlags")
	_, err = s.Copy(ctx, a.ID, mb.ID, set(u[0]), other.ID)
	noErr(t, "Copy", err)
	_, err = s.Copy(ctx, a.ID, other.ID, nil, mb.ID)
	noErr(t, "Copy in", err)
	check("Copy")
	_, err = s.Move(ctx, a.ID, mb.ID, set(u[1]), other.ID)
	noErr(t, "Move", err)
	check("Move")
	_, err = s.Expunge(ctx, a.ID, mb.ID, nil)
	noErr(t, "Expunge", err)
	check("Expunge")
	noErr(t, "Subscribe", s.SubscribeMailbox(ctx, a.ID, "Box", true))
	check("Subscribe")
	noErr(t, "Rename", s.RenameMailbox(ctx, a.ID, "Box", "Renamed"))
	check("Rename")
}
