package queue_test

import (
	"context"
	"testing"
	"time"

	"gannet/internal/queue"
	"gannet/internal/smtpclient/smtptest"
	"gannet/internal/store"
)

// TestLeaseRenewedAndReleased: a recipient being delivered is leased to this
// queue's store instance for 4 poll intervals; the lease is renewed every
// interval while the job runs, even when nothing else makes the queue look
// at the store; and Shutdown releases it, so that another node takes the
// recipient over at once.
func TestLeaseRenewedAndReleased(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inData := make(chan struct{}, 1)
	unblock := make(chan struct{})
	sink := smtptest.Start(t, smtptest.Options{DataHook: func() {
		inData <- struct{}{}
		<-unblock
	}})
	t.Cleanup(func() { close(unblock) })
	other := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig()
	cfg.Transports["remote.test"] = sink.Addr
	cfg.Transports["other.test"] = other.Addr
	// One worker: with its job stuck, the loop's next dispatch waits for it
	// (below), so only the renewal timer can keep the lease.
	q := e.newQueue(cfg, func(o *queue.Options) { o.PollInterval = time.Second; o.Workers = 1 })
	q.Start()
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@remote.test"}})
	select {
	case <-inData:
	case <-time.After(20 * time.Second):
		t.Fatal("the sink never saw DATA")
	}
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"carol@other.test"}})
	lease := func() store.QueuedRecipient {
		t.Helper()
		ms := e.queued()
		if len(ms) != 2 || len(ms[0].Recipients) != 1 {
			t.Fatalf("queue: %+v", ms)
		}
		return ms[0].Recipients[0]
	}
	t0 := e.clock.Now()
	if r := lease(); r.LeaseOwner == "" || !r.LeaseUntil.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("recipient in delivery: lease %q until %v; want one until %v", r.LeaseOwner, r.LeaseUntil, t0.Add(4*time.Second))
	}
	// The job is stuck in DATA; the renewal alone moves the lease on.
	e.clock.Advance(time.Minute)
	want := t0.Add(time.Minute + 4*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for r := lease(); !r.LeaseUntil.Equal(want); r = lease() {
		if time.Now().After(deadline) {
			t.Fatalf("lease until %v 10 s after the clock moved; want it renewed to %v", r.LeaseUntil, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_ = q.Shutdown(ctx) // aborts the stuck session
	if r := lease(); r.LeaseOwner != "" || !r.LeaseUntil.IsZero() {
		t.Fatalf("after Shutdown the recipient is still leased: %q until %v", r.LeaseOwner, r.LeaseUntil)
	}
}
