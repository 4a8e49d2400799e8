package pgstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

// enqueueN queues n one-recipient messages, to the given domains in turn.
func enqueueN(t *testing.T, s *Store, n int, now time.Time, domains ...string) {
	t.Helper()
	for i := range n {
		to := fmt.Sprintf("r%d@%s", i, domains[i%len(domains)])
		if _, err := s.EnqueueOutbound(t.Context(), store.Outbound{From: "a@example.com", Recipients: []string{to}, Raw: []byte("m")}, now); err != nil {
			t.Fatal(err)
		}
	}
}

type rcptKey struct {
	msg  int64
	addr string
}

// TestQueueLeaseNoSharing: two instances leasing at the same moment, again
// and again, never both get one recipient, and between them they get all.
func TestQueueLeaseNoSharing(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	// One domain per recipient: the domain rule does not get in the way.
	var domains []string
	for i := range 200 {
		domains = append(domains, fmt.Sprintf("d%d.test", i))
	}
	enqueueN(t, a, 200, now, domains...)
	got := map[rcptKey]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for n, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				due, err := s.QueueDue(ctx, now, 7, time.Minute)
				if err != nil {
					errs[n] = err
					return
				}
				var done []store.QueueUpdate
				mu.Lock()
				for _, r := range due {
					k := rcptKey{r.MessageID, r.Address}
					if prev, ok := got[k]; ok {
						errs[n] = fmt.Errorf("%v leased by %s and again by %s", k, prev, s.instance)
					}
					got[k] = s.instance
					done = append(done, store.QueueUpdate{MessageID: r.MessageID, Address: r.Address, Done: true})
				}
				mu.Unlock()
				if err := s.QueueUpdate(ctx, done); err != nil {
					errs[n] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 200 {
		t.Fatalf("%d recipients leased in all, want 200", len(got))
	}
	perNode := map[string]int{}
	for _, owner := range got {
		perNode[owner]++
	}
	t.Logf("recipients per instance: %v", perNode)
}

// TestQueueLeaseExclusive: a recipient leased by one instance is not given
// to another while the lease lives, and QueueNextAttempt tells the other
// when to look again; once lapsed, the other takes it over, and the first
// then no longer holds it (no renewal brings it back).
func TestQueueLeaseExclusive(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	enqueueN(t, a, 3, t0, "x.test")
	due, err := a.QueueDue(ctx, t0, 10, 2*time.Minute)
	if err != nil || len(due) != 3 {
		t.Fatalf("a: %d due, %v", len(due), err)
	}
	if due[0].LeaseOwner != a.instance {
		t.Fatalf("lease owner %q, want %q", due[0].LeaseOwner, a.instance)
	}
	if due, err := b.QueueDue(ctx, t0.Add(time.Minute), 10, 2*time.Minute); err != nil || len(due) != 0 {
		t.Fatalf("b got %d recipients leased by a (%v)", len(due), err)
	}
	// To b the work is for when a's lease lapses; to a it is due now.
	if n, ok, err := b.QueueNextAttempt(ctx); err != nil || !ok || !n.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("b's next attempt: %v %v %v; want %v (a's lease end)", n, ok, err, t0.Add(2*time.Minute))
	}
	if n, ok, err := a.QueueNextAttempt(ctx); err != nil || !ok || !n.Equal(t0) {
		t.Errorf("a's next attempt: %v %v %v; want %v", n, ok, err, t0)
	}
	// a renews: still a's past the first lease end.
	if n, err := a.QueueRenew(ctx, t0.Add(time.Minute), 2*time.Minute); err != nil || n != 3 {
		t.Fatalf("renew: %d %v", n, err)
	}
	if due, _ := b.QueueDue(ctx, t0.Add(2*time.Minute), 10, 2*time.Minute); len(due) != 0 {
		t.Fatalf("b took %d renewed recipients", len(due))
	}
	// a stops renewing (it died): at the lease end b takes all over.
	lapse := t0.Add(3 * time.Minute)
	if n, _, _ := b.QueueNextAttempt(ctx); !n.Equal(lapse) {
		t.Errorf("b's next attempt after a's renewal: %v, want %v", n, lapse)
	}
	due, err = b.QueueDue(ctx, lapse, 10, 2*time.Minute)
	if err != nil || len(due) != 3 || due[0].LeaseOwner != b.instance {
		t.Fatalf("b at the lease end: %+v %v; want all 3 taken over", due, err)
	}
	if n, err := a.QueueRenew(ctx, lapse, 2*time.Minute); err != nil || n != 0 {
		t.Errorf("a renewed %d leases taken over by b (%v)", n, err)
	}
	if due, _ := a.QueueDue(ctx, lapse, 10, 2*time.Minute); len(due) != 0 {
		t.Errorf("a got back %d recipients b took over", len(due))
	}
}

// TestQueueLeaseRelease: released leases go to another instance at once.
func TestQueueLeaseRelease(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	enqueueN(t, a, 4, t0, "x.test", "y.test")
	if due, err := a.QueueDue(ctx, t0, 10, time.Hour); err != nil || len(due) != 4 {
		t.Fatalf("a: %d due, %v", len(due), err)
	}
	if due, _ := b.QueueDue(ctx, t0, 10, time.Hour); len(due) != 0 {
		t.Fatalf("b got %d leased recipients", len(due))
	}
	if err := a.QueueRelease(ctx); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := b.QueueNextAttempt(ctx); err != nil || !ok || !n.Equal(t0) {
		t.Errorf("b's next attempt after release: %v %v %v; want %v", n, ok, err, t0)
	}
	if due, err := b.QueueDue(ctx, t0, 10, time.Hour); err != nil || len(due) != 4 {
		t.Fatalf("b after a's release: %d due, %v; want 4", len(due), err)
	}
	// A deferral by the holder ends its lease: at the new time anyone may
	// take the recipient.
	due, _ := b.QueueDue(ctx, t0, 1, time.Hour)
	r := due[0]
	if err := b.QueueUpdate(ctx, []store.QueueUpdate{{MessageID: r.MessageID, Address: r.Address, Attempts: 1, NextAttempt: t0.Add(time.Minute), LastAttempt: t0}}); err != nil {
		t.Fatal(err)
	}
	if err := b.QueueRelease(ctx); err != nil {
		t.Fatal(err)
	}
	due, err := a.QueueDue(ctx, t0.Add(time.Minute), 10, time.Hour)
	if err != nil || len(due) != 4 {
		t.Fatalf("a after b deferred one and released: %d, %v; want 4", len(due), err)
	}
}

// TestQueueLeaseDomain: while one instance holds a live lease in a domain,
// another gets none of that domain's recipients, even unleased ones (one
// route, one node), but does get other domains'; its next attempt for the
// held domain is the holder's lease end.
func TestQueueLeaseDomain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pg.NewDatabase(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	enqueueN(t, a, 4, t0, "x.test")
	if due, err := a.QueueDue(ctx, t0, 2, time.Minute); err != nil || len(due) != 2 {
		t.Fatalf("a: %d due, %v", len(due), err)
	}
	enqueueN(t, a, 2, t0, "y.test")
	due, err := b.QueueDue(ctx, t0, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range due {
		if r.Domain != "y.test" {
			t.Errorf("b leased %s in a domain a holds", r.Address)
		}
	}
	if len(due) != 2 {
		t.Errorf("b leased %d of y.test's 2 recipients", len(due))
	}
	if err := b.QueueRelease(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := b.QueueNextAttempt(ctx); !n.Equal(t0) {
		t.Errorf("b's next attempt: %v; want %v (y.test is free)", n, t0)
	}
	// With y.test gone, b's work is all in x.test: for when a's lease ends.
	due, _ = a.QueueDue(ctx, t0, 10, time.Minute) // a takes everything, x.test and y.test
	var done []store.QueueUpdate
	for _, r := range due {
		if r.Domain == "y.test" {
			done = append(done, store.QueueUpdate{MessageID: r.MessageID, Address: r.Address, Done: true})
		}
	}
	if err := a.QueueUpdate(ctx, done); err != nil || len(done) != 2 {
		t.Fatalf("finishing y.test: %d, %v", len(done), err)
	}
	if n, _, _ := b.QueueNextAttempt(ctx); !n.Equal(t0.Add(time.Minute)) {
		t.Errorf("b's next attempt: %v; want a's lease end %v", n, t0.Add(time.Minute))
	}
	// Another instance's lapsed lease does not hold a domain.
	if due, err := b.QueueDue(ctx, t0.Add(time.Minute), 10, time.Minute); err != nil || len(due) != 4 {
		t.Fatalf("b after a's leases lapsed: %d, %v; want 4", len(due), err)
	}
	// And the domain rule holds under a race: two instances leasing a fresh
	// domain at once end up with it on one of them only.
	c := openDSN(t, dsn)
	if err := b.QueueRelease(ctx); err != nil {
		t.Fatal(err)
	}
	enqueueN(t, a, 40, t0, "z.test")
	for round := range 5 {
		var wg sync.WaitGroup
		domains := make([]map[string]bool, 2)
		for n, s := range []*Store{b, c} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				due, err := s.QueueDue(context.WithoutCancel(ctx), t0.Add(2*time.Minute), 3, time.Minute)
				if err != nil {
					t.Error(err)
				}
				domains[n] = map[string]bool{}
				for _, r := range due {
					domains[n][r.Domain] = true
				}
			}()
		}
		wg.Wait()
		for d := range domains[0] {
			if domains[1][d] {
				t.Fatalf("round %d: both instances leased in %s", round, d)
			}
		}
		if len(domains[0])+len(domains[1]) < 2 {
			t.Fatalf("round %d: leased domains %v; want x.test and z.test, one instance each", round, domains)
		}
		_ = b.QueueRelease(ctx)
		_ = c.QueueRelease(ctx)
	}
}
