package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

// The outbound queue's storage contract (store.QueueStore): what the queue
// (internal/queue) relies on from every backend. Times are the caller's.

func queueTests() []subtest {
	return []subtest{
		{"Lifecycle", testQueueLifecycle},
		{"ListRetryAllDrop", testQueueListRetryAllDrop},
		{"RefusesBadInput", testQueueRefusesBadInput},
		{"SurvivesGC", testQueueSurvivesGC},
		{"Leases", testQueueLeases},
	}
}

// queueT0 is the queue clock's start in these tests.
func queueT0() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }

func testQueueLifecycle(t *testing.T, s store.Store) {
	ctx := context.Background()
	raw := bytes.Repeat([]byte("Subject: big\r\n\r\n0123456789abcdef\r\n"), 20000) // compresses, > inline size
	id, err := s.EnqueueOutbound(ctx, store.Outbound{
		From: "a@example.com", Recipients: []string{"b@Example.NET", "c@example.org", "b@Example.NET"}, Raw: raw,
		AccountID: 7, EnvID: "e1", Ret: "FULL",
		Notify: map[string]string{"b@Example.NET": "SUCCESS,FAILURE"}, ORcpt: map[string]string{"c@example.org": "rfc822;c@example.org"},
	}, queueT0())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.QueueMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "a@example.com" || m.AccountID != 7 || m.EnvID != "e1" || m.Ret != "FULL" || m.Size != int64(len(raw)) || !m.Created.Equal(queueT0()) {
		t.Errorf("message %+v", m)
	}
	if len(m.Recipients) != 2 {
		t.Fatalf("recipients %+v, want 2 (duplicates merged)", m.Recipients)
	}
	b, c := m.Recipients[0], m.Recipients[1]
	if b.Address != "b@Example.NET" || b.Domain != "example.net" || b.Notify != "SUCCESS,FAILURE" || !b.NextAttempt.Equal(queueT0()) || b.Attempts != 0 || !b.LastAttempt.IsZero() {
		t.Errorf("recipient b %+v", b)
	}
	if c.ORcpt != "rfc822;c@example.org" {
		t.Errorf("recipient c %+v", c)
	}
	got, err := s.QueueMessageData(ctx, id)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("data: %v, equal %v", err, bytes.Equal(got, raw))
	}

	due, err := s.QueueDue(ctx, queueT0().Add(-time.Second), 10, time.Minute)
	if err != nil || len(due) != 0 {
		t.Fatalf("due before its time: %v %v", due, err)
	}
	due, err = s.QueueDue(ctx, queueT0(), 10, time.Minute)
	if err != nil || len(due) != 2 {
		t.Fatalf("due: %v %v", due, err)
	}
	// Defer b, deliver c.
	next := queueT0().Add(5 * time.Minute)
	err = s.QueueUpdate(ctx, []store.QueueUpdate{
		{MessageID: id, Address: "b@Example.NET", Attempts: 1, NextAttempt: next, LastAttempt: queueT0(), LastError: "451 later", DelayNotified: true},
		{MessageID: id, Address: "c@example.org", Done: true},
		{MessageID: id, Address: "gone@example.org", Done: true}, // unknown: ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	n, ok, err := s.QueueNextAttempt(ctx)
	if err != nil || !ok || !n.Equal(next) {
		t.Errorf("next attempt %v %v %v, want %v", n, ok, err, next)
	}
	m, _ = s.QueueMessage(ctx, id)
	if len(m.Recipients) != 1 || m.Recipients[0].Attempts != 1 || m.Recipients[0].LastError != "451 later" || !m.Recipients[0].DelayNotified || !m.Recipients[0].LastAttempt.Equal(queueT0()) {
		t.Errorf("after update: %+v", m.Recipients)
	}
	// Retry makes it due at once.
	cnt, err := s.QueueRetry(ctx, id, queueT0().Add(time.Minute))
	if err != nil || cnt != 1 {
		t.Errorf("retry: %d %v", cnt, err)
	}
	if due, _ := s.QueueDue(ctx, queueT0().Add(time.Minute), 10, time.Minute); len(due) != 1 {
		t.Errorf("not due after retry: %v", due)
	}
	if _, err := s.QueueRetry(ctx, id+100, queueT0()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retry unknown: %v", err)
	}
	// The last recipient done: the message goes too.
	if err := s.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: id, Address: "b@Example.NET", Done: true}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.QueueMessage(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message after its last recipient: %v", err)
	}
	if _, ok, _ := s.QueueNextAttempt(ctx); ok {
		t.Error("empty queue has a next attempt")
	}
	// IDs are never reused, even when the queue was empty.
	id2, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@example.com", Recipients: []string{"x@example.net"}, Raw: []byte("x")}, queueT0())
	if err != nil || id2 <= id {
		t.Errorf("second ID %d (err %v) after %d", id2, err, id)
	}
}

func testQueueListRetryAllDrop(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []int64
	for i, to := range []string{"a@x.test", "b@y.test", "c@z.test"} {
		id, err := s.EnqueueOutbound(ctx, store.Outbound{From: "s@example.com", Recipients: []string{to}, Raw: []byte("m")}, queueT0().Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	list, err := s.QueueList(ctx)
	if err != nil || len(list) != 3 || list[0].ID != ids[0] || len(list[2].Recipients) != 1 || list[2].Recipients[0].Address != "c@z.test" {
		t.Fatalf("list %+v %v", list, err)
	}
	if n, err := s.QueueRetry(ctx, 0, queueT0().Add(-time.Hour)); err != nil || n != 3 {
		t.Errorf("retry all: %d %v", n, err)
	}
	if due, _ := s.QueueDue(ctx, queueT0().Add(-time.Hour), 2, time.Minute); len(due) != 2 {
		t.Errorf("due with limit 2: %d", len(due))
	}
	if err := s.QueueDrop(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDrop(ctx, ids[1]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second drop: %v", err)
	}
	if _, err := s.QueueMessageData(ctx, ids[1]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("data after drop: %v", err)
	}
	if list, _ := s.QueueList(ctx); len(list) != 2 {
		t.Errorf("list after drop: %d", len(list))
	}
}

func testQueueRefusesBadInput(t *testing.T, s store.Store) {
	ctx := context.Background()
	if _, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@x.test", Raw: []byte("x")}, queueT0()); err == nil {
		t.Error("no recipients accepted")
	}
	if _, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@x.test", Recipients: []string{"nodomain"}, Raw: []byte("x")}, queueT0()); err == nil {
		t.Error("recipient without domain accepted")
	}
	if list, _ := s.QueueList(ctx); len(list) != 0 {
		t.Errorf("a refused enqueue left %d messages", len(list))
	}
}

// testQueueSurvivesGC: queue bytes are not message blobs, so GC must not
// touch them.
func testQueueSurvivesGC(t *testing.T, s store.Store) {
	ctx := context.Background()
	if g, ok := s.(GCGraceSetter); ok {
		g.SetGCGrace(time.Nanosecond) // GC may collect anything unreferenced at once
	}
	raw := []byte("Subject: keep\r\n\r\n" + strings.Repeat("queue bytes ", 30000))
	id, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@x.test", Recipients: []string{"b@y.test"}, Raw: raw}, queueT0())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.QueueMessageData(ctx, id); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("queued message after GC: %v", err)
	}
}

// leaseOf returns the lease fields of one recipient as QueueMessage shows them.
func leaseOf(t *testing.T, s store.Store, id int64, addr string) (string, time.Time) {
	t.Helper()
	m, err := s.QueueMessage(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Recipients {
		if r.Address == addr {
			return r.LeaseOwner, r.LeaseUntil
		}
	}
	t.Fatalf("message %d has no recipient %s", id, addr)
	return "", time.Time{}
}

// testQueueLeases: what one store instance can see of its leases. QueueDue
// leases what it returns until now + lease, and returns its own leases again
// (renewing them); QueueRenew extends them all; QueueUpdate ends the lease of
// a recipient it defers; QueueRelease ends them all; the queue list shows
// them; and an instance's own leases never hide work from it (QueueDue,
// QueueNextAttempt). Between instances see pgstore's tests.
func testQueueLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := queueT0()
	id, err := s.EnqueueOutbound(ctx, store.Outbound{From: "a@example.com", Recipients: []string{"b@x.test", "c@y.test"}, Raw: []byte("m")}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if owner, until := leaseOf(t, s, id, "b@x.test"); owner != "" || !until.IsZero() {
		t.Fatalf("new recipient leased: %q until %v", owner, until)
	}
	due, err := s.QueueDue(ctx, t0, 10, 2*time.Minute)
	if err != nil || len(due) != 2 {
		t.Fatalf("due: %+v %v", due, err)
	}
	owner := due[0].LeaseOwner
	for _, r := range due {
		if r.LeaseOwner == "" || r.LeaseOwner != owner || !r.LeaseUntil.Equal(t0.Add(2*time.Minute)) {
			t.Fatalf("due recipient's lease: %q until %v; want this instance's, until %v", r.LeaseOwner, r.LeaseUntil, t0.Add(2*time.Minute))
		}
	}
	if o, until := leaseOf(t, s, id, "c@y.test"); o != owner || !until.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("QueueMessage shows lease %q until %v", o, until)
	}
	if list, _ := s.QueueList(ctx); len(list) != 1 || len(list[0].Recipients) != 2 || list[0].Recipients[1].LeaseOwner != owner {
		t.Errorf("QueueList does not show the leases: %+v", list)
	}
	// Leased by this instance: still due for it, and the lease is renewed.
	t1 := t0.Add(30 * time.Second)
	due, err = s.QueueDue(ctx, t1, 10, 2*time.Minute)
	if err != nil || len(due) != 2 || !due[0].LeaseUntil.Equal(t1.Add(2*time.Minute)) {
		t.Fatalf("due again while leased: %+v %v; want both, renewed to %v", due, err, t1.Add(2*time.Minute))
	}
	if n, ok, err := s.QueueNextAttempt(ctx); err != nil || !ok || !n.Equal(t0) {
		t.Errorf("next attempt with own leases: %v %v %v; want %v", n, ok, err, t0)
	}
	// QueueRenew extends every lease held.
	t2 := t0.Add(time.Minute)
	if n, err := s.QueueRenew(ctx, t2, 5*time.Minute); err != nil || n != 2 {
		t.Errorf("renew: %d %v; want 2", n, err)
	}
	if _, until := leaseOf(t, s, id, "b@x.test"); !until.Equal(t2.Add(5 * time.Minute)) {
		t.Errorf("after renew: lease until %v, want %v", until, t2.Add(5*time.Minute))
	}
	// An outcome ends the lease: b is deferred and no longer leased.
	err = s.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: id, Address: "b@x.test", Attempts: 1, NextAttempt: t2.Add(time.Minute), LastAttempt: t2, LastError: "451 later"}})
	if err != nil {
		t.Fatal(err)
	}
	if o, until := leaseOf(t, s, id, "b@x.test"); o != "" || !until.IsZero() {
		t.Errorf("deferred recipient still leased: %q until %v", o, until)
	}
	if o, _ := leaseOf(t, s, id, "c@y.test"); o != owner {
		t.Errorf("the other recipient's lease ended too: %q", o)
	}
	if n, err := s.QueueRenew(ctx, t2, 5*time.Minute); err != nil || n != 1 {
		t.Errorf("renew after the update: %d %v; want 1", n, err)
	}
	// Release ends every lease; the recipients stay queued and due.
	if err := s.QueueRelease(ctx); err != nil {
		t.Fatal(err)
	}
	if o, until := leaseOf(t, s, id, "c@y.test"); o != "" || !until.IsZero() {
		t.Errorf("after release: %q until %v", o, until)
	}
	if n, err := s.QueueRenew(ctx, t2, 5*time.Minute); err != nil || n != 0 {
		t.Errorf("renew after release: %d %v; want 0", n, err)
	}
	due, err = s.QueueDue(ctx, t2.Add(time.Minute), 10, time.Minute)
	if err != nil || len(due) != 2 {
		t.Fatalf("due after release: %+v %v", due, err)
	}
	// The limit bounds what is leased: a lease is taken only on what is
	// returned.
	if err := s.QueueRelease(ctx); err != nil {
		t.Fatal(err)
	}
	due, err = s.QueueDue(ctx, t2.Add(time.Minute), 1, time.Minute)
	if err != nil || len(due) != 1 {
		t.Fatalf("due with limit 1: %+v %v", due, err)
	}
	if n, err := s.QueueRenew(ctx, t2, time.Minute); err != nil || n != 1 {
		t.Errorf("leases after QueueDue with limit 1: %d %v; want 1", n, err)
	}
	// Done deletes the recipient with its lease; dropping the message ends
	// the rest.
	if err := s.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: id, Address: due[0].Address, Done: true}}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.QueueRenew(ctx, t2, time.Minute); err != nil || n != 0 {
		t.Errorf("leases after Done: %d %v; want 0", n, err)
	}
	if _, err := s.QueueDue(ctx, t2.Add(time.Minute), 10, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDrop(ctx, id); err != nil {
		t.Fatal(err)
	}
	if n, err := s.QueueRenew(ctx, t2, time.Minute); err != nil || n != 0 {
		t.Errorf("leases after drop: %d %v; want 0", n, err)
	}
}
