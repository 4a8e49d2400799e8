package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"gannet/internal/store"
)

// The queue's backend-neutral contract is in storetest (queue.go), run by
// TestContract; these are the SQLite-specific parts.

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

// TestQueueDropLeavesNoRecipients: QueueDrop removes the recipient rows with
// the message (no orphans for QueueDue to trip over).
func TestQueueDropLeavesNoRecipients(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	id, err := s.EnqueueOutbound(ctx, store.Outbound{From: "s@example.com", Recipients: []string{"a@x.test", "b@y.test"}, Raw: []byte("m")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDrop(ctx, id); err != nil {
		t.Fatal(err)
	}
	var orphans int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM queue_recipients WHERE message_id = ?`, id).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("recipients left after drop: %d %v", orphans, err)
	}
}

// TestQueueMigrationFromVersion2 opens a database made before the queue
// existed and uses the queue in it.
func TestQueueMigrationFromVersion2(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gannet.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, 2); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(ctx); v < 3 {
		t.Fatalf("schema version %d after open, want at least 3", v)
	}
	if _, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@x.test", Recipients: []string{"b@y.test"}, Raw: []byte("m")}, t0); err != nil {
		t.Fatalf("enqueue after migration: %v", err)
	}
}
