package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"gannet/internal/store"
)

func gcTests() []subtest {
	return []subtest{
		{"KeepsReferenced", testGCKeepsReferenced},
		{"RemovesUnreferenced", testGCRemovesUnreferenced},
	}
}

func blobReadable(t *testing.T, s store.Store, blob string, want []byte) bool {
	t.Helper()
	rc, err := s.Open(t.Context(), blob)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	got := readAll(t, rc, err, "Open "+blob)
	if !bytes.Equal(got, want) {
		t.Errorf("blob %s content changed", blob)
	}
	return true
}

// testGCKeepsReferenced needs no hook: GC must never remove a referenced blob.
func testGCKeepsReferenced(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	work := createMbox(t, s, a.ID, "Work")
	if g, ok := s.(GCGraceSetter); ok {
		g.SetGCGrace(0)
	}
	raw := Msg{Subject: "keep me", Body: "referenced twice\n"}.Bytes()
	uid := appendMsg(t, s, a.ID, inbox.ID, raw, nil, time.Time{})
	blob := one(t, s, a.ID, inbox.ID, uid).BlobID
	_, err := s.Copy(ctx, a.ID, inbox.ID, set(uid), work.ID)
	noErr(t, "Copy", err)
	_, err = s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{uid})
	noErr(t, "ExpungeUIDs", err)
	_, err = s.GC(ctx)
	noErr(t, "GC", err)
	if !blobReadable(t, s, blob, raw) {
		t.Fatalf("GC removed a blob still referenced by Work")
	}
	// Moving it keeps it referenced, too.
	_, err = s.Move(ctx, a.ID, work.ID, nil, inbox.ID)
	noErr(t, "Move", err)
	_, err = s.GC(ctx)
	noErr(t, "GC", err)
	if !blobReadable(t, s, blob, raw) {
		t.Fatalf("GC removed a blob referenced by a moved message")
	}
}

func testGCRemovesUnreferenced(t *testing.T, s store.Store) {
	ctx := t.Context()
	g, ok := s.(GCGraceSetter)
	if !ok {
		t.Skip("store does not implement storetest.GCGraceSetter; cannot bypass the GC grace period")
	}
	g.SetGCGrace(0)
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	work := createMbox(t, s, a.ID, "Work")
	gone := Msg{Subject: "collect me", Body: "garbage soon\n"}.Bytes()
	kept := Msg{Subject: "keep me", Body: "still here\n"}.Bytes()
	res := deliver(t, s, store.Delivery{Raw: gone, Recipients: []store.Recipient{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Work"}}})
	uk := appendMsg(t, s, a.ID, inbox.ID, kept, nil, time.Time{})
	goneBlob := one(t, s, a.ID, inbox.ID, res[0].UID).BlobID
	keptBlob := one(t, s, a.ID, inbox.ID, uk).BlobID

	// One copy left: not garbage.
	_, err := s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{res[0].UID})
	noErr(t, "ExpungeUIDs", err)
	_, err = s.GC(ctx)
	noErr(t, "GC", err)
	if !blobReadable(t, s, goneBlob, gone) {
		t.Fatalf("GC removed a blob with one reference left")
	}
	// Last copy expunged: garbage.
	_, err = s.ExpungeUIDs(ctx, a.ID, work.ID, []uint32{res[1].UID})
	noErr(t, "ExpungeUIDs", err)
	n, err := s.GC(ctx)
	noErr(t, "GC", err)
	if n < 1 {
		t.Errorf("GC removed %d blobs, want at least 1", n)
	}
	if blobReadable(t, s, goneBlob, gone) {
		t.Errorf("blob %s still readable after GC with no references", goneBlob)
	}
	if !blobReadable(t, s, keptBlob, kept) {
		t.Errorf("GC removed the referenced blob %s", keptBlob)
	}
	if n, err := s.GC(ctx); err != nil || n != 0 {
		t.Errorf("second GC = %d, %v; want 0 removed", n, err)
	}

	// Blobs of deleted mailboxes and deleted accounts are garbage too.
	mbRaw := Msg{Subject: "in a deleted mailbox"}.Bytes()
	u := appendMsg(t, s, a.ID, work.ID, mbRaw, nil, time.Time{})
	mbBlob := one(t, s, a.ID, work.ID, u).BlobID
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, a.ID, "Work"))
	bRaw := Msg{Subject: "in a deleted account"}.Bytes()
	ub := appendMsg(t, s, b.ID, mbox(t, s, b.ID, "INBOX").ID, bRaw, nil, time.Time{})
	bBlob := one(t, s, b.ID, mbox(t, s, b.ID, "INBOX").ID, ub).BlobID
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, "bob@example.org"))
	n, err = s.GC(ctx)
	noErr(t, "GC", err)
	if n != 2 {
		t.Errorf("GC after deleting a mailbox and an account removed %d blobs, want 2", n)
	}
	if blobReadable(t, s, mbBlob, mbRaw) {
		t.Errorf("blob of a deleted mailbox survived GC")
	}
	if blobReadable(t, s, bBlob, bRaw) {
		t.Errorf("blob of a deleted account survived GC")
	}
	// A blob that was collected can be stored again.
	r := deliver(t, s, store.Delivery{Raw: gone, Recipients: []store.Recipient{{AccountID: a.ID}}})
	m := one(t, s, a.ID, inbox.ID, r[0].UID)
	if !blobReadable(t, s, m.BlobID, gone) {
		t.Errorf("re-delivered message after GC is not readable")
	}
}
