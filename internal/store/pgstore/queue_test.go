package pgstore

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

// TestQueueTwoNodesFinishMessage: two nodes each finishing one of a message's
// last two recipients at the same moment leave neither the message nor a
// recipient behind (each would otherwise still see the other's recipient
// under READ COMMITTED and keep the message).
func TestQueueTwoNodesFinishMessage(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pg.NewDatabase(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const rounds = 20
	for i := range rounds {
		id, err := a.EnqueueOutbound(ctx, store.Outbound{
			From: "a@example.com", Recipients: []string{"x@example.net", "y@example.net"}, Raw: []byte("Subject: x\r\n\r\nhi\r\n"),
		}, now)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for n, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[n] = s.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: id, Address: []string{"x@example.net", "y@example.net"}[n], Done: true}})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
	}
	var msgs, rcpts int
	if err := a.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM queue_messages), (SELECT count(*) FROM queue_recipients)`).Scan(&msgs, &rcpts); err != nil {
		t.Fatal(err)
	}
	if msgs != 0 || rcpts != 0 {
		t.Fatalf("after %d messages finished on two nodes: %d messages and %d recipients left; want none", rounds, msgs, rcpts)
	}
}

// TestQueueCompressed: the bytes are stored compressed (zstd), read back
// exactly on another node, and a message larger than one frame survives.
func TestQueueCompressed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pg.NewDatabase(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	raw := bytes.Repeat([]byte("Subject: big\r\n\r\n0123456789abcdef\r\n"), 20000) // several frames
	id, err := a.EnqueueOutbound(ctx, store.Outbound{From: "a@example.com", Recipients: []string{"b@example.net"}, Raw: raw}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := a.pool.QueryRow(ctx, `SELECT length(data) FROM queue_messages WHERE id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored*10 > len(raw) {
		t.Errorf("%d bytes stored for %d of repetitive text: not compressed", stored, len(raw))
	}
	got, err := b.QueueMessageData(ctx, id)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("data on the other node: %v, equal %v", err, bytes.Equal(got, raw))
	}
	// Corrupt bytes are an error, not a panic or a huge allocation.
	if _, err := a.pool.Exec(ctx, `UPDATE queue_messages SET data = '\x00010203'::bytea WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := b.QueueMessageData(ctx, id); err == nil {
		t.Fatal("corrupt queue data read without error")
	}
	if _, err := b.QueueMessageData(ctx, id+1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("message %d: %v; want ErrNotFound", id+1, err)
	}
}

// TestQueueDueLimit: the limit bounds QueueDue, earliest first; a negative
// limit is no limit (SQLite's LIMIT -1, which sqlstore passes through).
func TestQueueDueLimit(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		_, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@example.com", Recipients: []string{"b@example.net"}, Raw: []byte("x")},
			t0.Add(time.Duration(2-i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Hour)
	for limit, want := range map[int]int{-1: 3, 0: 0, 2: 2, 10: 3} {
		got, err := s.QueueDue(ctx, now, limit, time.Minute)
		if err != nil || len(got) != want {
			t.Fatalf("QueueDue(limit %d): %d recipients, %v; want %d", limit, len(got), err, want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].NextAttempt.Before(got[i-1].NextAttempt) {
				t.Fatalf("QueueDue(limit %d) not earliest first: %+v", limit, got)
			}
		}
	}
	if got, err := s.QueueDue(ctx, t0, -1, time.Minute); err != nil || len(got) != 1 || !got[0].NextAttempt.Equal(t0) {
		t.Fatalf("QueueDue at t0: %+v, %v; want only the one due then", got, err)
	}
}
