package sqlstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"gannet/internal/store"
)

// TestStorageFull caps the database (max_page_count, which makes SQLite answer
// SQLITE_FULL exactly as a full disk does): deliveries then fail with
// store.ErrStorageFull and leave nothing behind, and succeed again once there
// is room.
func TestStorageFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.w.conn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages+20)); err != nil {
		t.Fatal(err)
	}
	deliver := func(i int) error {
		body := make([]byte, 12<<10) // incompressible: about three pages each
		rand.Read(body)
		raw := fmt.Appendf(nil, "Subject: %d\r\n\r\n%x\r\n", i, body)
		_, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}})
		return err
	}
	stored := 0
	for i := 0; ; i++ {
		err := deliver(i)
		if err == nil {
			stored++
			continue
		}
		if !errors.Is(err, store.ErrStorageFull) {
			t.Fatalf("delivery %d: %v, want ErrStorageFull", i, err)
		}
		break
	}
	if stored == 0 || stored > 20 {
		t.Fatalf("%d deliveries fitted in 20 pages", stored)
	}
	if mb, err := s.Mailbox(ctx, a.ID, "INBOX"); err != nil || int(mb.Messages) != stored {
		t.Fatalf("INBOX after the failure: %+v, %v; want %d messages", mb, err, stored)
	}
	if _, err := s.w.conn.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := deliver(-1); err != nil {
		t.Fatalf("delivery once there is room: %v", err)
	}
	if mb, err := s.Mailbox(ctx, a.ID, "INBOX"); err != nil || int(mb.Messages) != stored+1 {
		t.Fatalf("INBOX at the end: %+v, %v; want %d messages", mb, err, stored+1)
	}
}
