package app

import (
	"strings"
	"testing"

	"gannet/internal/store"
)

// TestCollectOnce: the server's body collection removes the bytes of an
// expunged message, counts it, and skips a round while another holder (a
// node collecting) has the lock.
func TestCollectOnce(t *testing.T) {
	t.Parallel()
	a := testApp(t, "gc.test", nil)
	ctx := t.Context()
	acct, err := a.Store.AddAccount(ctx, "u@gc.test", "a password 1")
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("From: a@gc.test\r\nSubject: gone soon\r\n\r\n" + strings.Repeat("bytes to collect\r\n", 300))
	res, err := a.Store.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: acct.ID}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	if _, err := a.Store.ExpungeUIDs(ctx, acct.ID, res[0].MailboxID, []uint32{res[0].UID}); err != nil {
		t.Fatal(err)
	}

	l, ok, err := a.Store.TryLock(ctx, bodyGCLock)
	if err != nil || !ok {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	a.collectOnce(ctx)
	if a.gc.runs.Load() != 0 {
		t.Fatal("collected while another holder had the lock")
	}
	l.Release()

	a.collectOnce(ctx)
	if r, n := a.gc.runs.Load(), a.gc.removed.Load(); r != 1 || n != 1 {
		t.Fatalf("runs %d, removed %d; want 1, 1", r, n)
	}
	if _, err := a.Store.Open(ctx, store.Ingest(raw).ID); err == nil {
		t.Fatal("the expunged message's body is still there")
	}
}
