package notify

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

func change(account int64, modseq uint64) store.Change {
	return store.Change{AccountID: account, MailboxID: 1, ModSeq: modseq, Kind: store.ChangeNew}
}

func modseqs(cs []store.Change) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.ModSeq
	}
	return out
}

func pending(s store.Subscription) bool {
	select {
	case <-s.C():
		return true
	default:
		return false
	}
}

func wantNext(t *testing.T, s store.Subscription, want []uint64, wantOverflow bool) {
	t.Helper()
	got, o := s.Next()
	if o != wantOverflow || fmt.Sprint(modseqs(got)) != fmt.Sprint(want) {
		t.Fatalf("Next() = %v, %v; want %v, %v", modseqs(got), o, want, wantOverflow)
	}
}

func TestOrdering(t *testing.T) {
	t.Parallel()
	h := New()
	s := h.Subscribe(7)
	defer s.Close()
	var want []uint64
	for i := uint64(1); i <= 50; i++ {
		h.Publish(change(7, i))
		want = append(want, i)
	}
	h.Publish(change(7, 51), change(7, 52), change(7, 53))
	want = append(want, 51, 52, 53)
	if !pending(s) {
		t.Fatal("C not signalled")
	}
	wantNext(t, s, want, false)
	if pending(s) {
		t.Error("C signalled with nothing new published")
	}
	wantNext(t, s, nil, false)
	h.Publish(change(7, 54))
	if !pending(s) {
		t.Fatal("C not signalled after drain")
	}
	wantNext(t, s, []uint64{54}, false)
}

func TestFiltering(t *testing.T) {
	t.Parallel()
	h := New()
	a, b, all := h.Subscribe(1), h.Subscribe(2), h.Subscribe(0)
	a2 := h.Subscribe(1)
	for _, s := range []store.Subscription{a, b, all, a2} {
		defer s.Close()
	}
	h.Publish(change(1, 1))
	h.Publish(change(2, 2))
	h.Publish(change(3, 3)) // no account subscriber
	// One publish spanning accounts: each subscriber gets its part, in order.
	h.Publish(change(1, 4), change(2, 5), change(1, 6), change(3, 7))

	wantNext(t, a, []uint64{1, 4, 6}, false)
	wantNext(t, a2, []uint64{1, 4, 6}, false)
	wantNext(t, b, []uint64{2, 5}, false)
	wantNext(t, all, []uint64{1, 2, 3, 4, 5, 6, 7}, false)

	for _, s := range []store.Subscription{a, b, all, a2} {
		pending(s) // consume the wake-ups of the publishes above
	}
	h.Publish(change(2, 8))
	if pending(a) {
		t.Error("account 1 subscriber signalled for account 2 change")
	}
	if !pending(b) || !pending(all) {
		t.Error("account 2 / all subscribers not signalled")
	}
}

func TestSignalCoalesces(t *testing.T) {
	t.Parallel()
	h := New()
	s := h.Subscribe(1)
	defer s.Close()
	if cap(s.C()) != 1 {
		t.Fatalf("cap(C) = %d, want 1", cap(s.C()))
	}
	for i := uint64(1); i <= 10; i++ {
		h.Publish(change(1, i)) // must not block although nobody reads C
	}
	if len(s.C()) != 1 {
		t.Errorf("len(C) = %d, want 1", len(s.C()))
	}
	h.Publish() // no changes: no signal, no panic
}

func TestOverflow(t *testing.T) {
	t.Parallel()
	h := New()
	s := h.Subscribe(1)
	all := h.Subscribe(0)
	defer s.Close()
	defer all.Close()
	for i := range uint64(QueueLimit) {
		h.Publish(change(1, i+1))
	}
	got, o := s.Next()
	if o || len(got) != QueueLimit {
		t.Fatalf("at the limit: Next() = %d changes, overflowed %v", len(got), o)
	}
	for i := range uint64(QueueLimit) {
		h.Publish(change(1, i+1))
	}
	h.Publish(change(1, 99999)) // one too many: queue dropped
	h.Publish(change(1, 99998)) // discarded while overflowed
	if !pending(s) {
		t.Fatal("C not signalled on overflow")
	}
	wantNext(t, s, nil, true)
	wantNext(t, all, nil, true)
	// Back to normal after the overflow was reported.
	h.Publish(change(1, 100000))
	wantNext(t, s, []uint64{100000}, false)

	// A single publish larger than the limit overflows at once.
	big := make([]store.Change, QueueLimit+1)
	for i := range big {
		big[i] = change(1, uint64(i))
	}
	h.Publish(big...)
	wantNext(t, s, nil, true)
}

func TestClose(t *testing.T) {
	t.Parallel()
	h := New()
	s := h.Subscribe(1)
	other := h.Subscribe(1)
	all := h.Subscribe(0)
	defer other.Close()
	if n := h.Subscribers(); n != 3 {
		t.Fatalf("Subscribers() = %d, want 3", n)
	}
	h.Publish(change(1, 1))
	s.Close()
	s.Close() // idempotent
	all.Close()
	if n := h.Subscribers(); n != 1 {
		t.Fatalf("after Close, Subscribers() = %d, want 1", n)
	}
	h.Publish(change(1, 2)) // harmless after Close
	wantNext(t, s, nil, false)
	// C is closed: a reader blocked on it wakes up, a range loop ends.
	select {
	case _, ok := <-s.C():
		if ok {
			// the pending signal from before Close; the next receive sees closed
			if _, ok := <-s.C(); ok {
				t.Fatal("C not closed after Close")
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("C not closed after Close")
	}
	wantNext(t, other, []uint64{1, 2}, false)
	// The account's registry entry goes away with its last subscriber.
	other.Close()
	h.mu.RLock()
	n := len(h.byAccount)
	h.mu.RUnlock()
	if n != 0 {
		t.Errorf("byAccount has %d entries after all subscribers closed", n)
	}
}

// TestCloseWhilePublishing runs Close against concurrent publishers; under -race
// it checks that no send hits a closed channel and nothing races.
func TestCloseWhilePublishing(t *testing.T) {
	t.Parallel()
	h := New()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h.Publish(change(int64(p%2+1), i))
			}
		})
	}
	for i := range 500 {
		s := h.Subscribe(int64(i%3) + 0)
		if i%2 == 0 {
			s.Next()
		}
		go s.Close()
		s.Close()
	}
	close(stop)
	wg.Wait()
	// Closes run in goroutines; wait for the registry to empty.
	deadline := time.Now().Add(10 * time.Second)
	for h.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Subscribers() = %d after closing all", h.Subscribers())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestManySubscribersConcurrentPublishers: 1000 subscribers (990 on 99 accounts,
// 10 on all accounts) drain concurrently while 8 publishers publish 250 changes
// each. Every subscriber must see exactly its account's changes, each
// publisher's in publish order.
func TestManySubscribersConcurrentPublishers(t *testing.T) {
	t.Parallel()
	const (
		accounts   = 99
		perAccount = 10
		allSubs    = 10
		publishers = 8
		perPub     = 250 // total 2000 < QueueLimit, so no overflow is possible
	)
	h := New()
	type result struct {
		account int64
		got     []store.Change
		err     error
	}
	expect := func(account int64) int {
		n := 0
		for i := range perPub {
			if account == 0 || int64(i%accounts)+1 == account {
				n++
			}
		}
		return n * publishers
	}
	results := make(chan result, accounts*perAccount+allSubs)
	var ready sync.WaitGroup
	start := make(chan struct{})
	subscribe := func(account int64) {
		s := h.Subscribe(account)
		ready.Done()
		go func() {
			defer s.Close()
			<-start
			want := expect(account)
			var got []store.Change
			timeout := time.After(30 * time.Second)
			for len(got) < want {
				select {
				case <-s.C():
				case <-timeout:
					results <- result{account, got, fmt.Errorf("timed out with %d of %d changes", len(got), want)}
					return
				}
				cs, o := s.Next()
				if o {
					results <- result{account, got, fmt.Errorf("overflowed")}
					return
				}
				got = append(got, cs...)
			}
			results <- result{account, got, nil}
		}()
	}
	n := 0
	for a := int64(1); a <= accounts; a++ {
		for range perAccount {
			ready.Add(1)
			subscribe(a)
			n++
		}
	}
	for range allSubs {
		ready.Add(1)
		subscribe(0)
		n++
	}
	ready.Wait()
	close(start)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range perPub {
				// MailboxID carries the publisher, ModSeq its sequence number.
				h.Publish(store.Change{AccountID: int64(i%accounts) + 1, MailboxID: int64(p), ModSeq: uint64(i) + 1})
			}
		})
	}
	wg.Wait()
	for range n {
		r := <-results
		if r.err != nil {
			t.Errorf("account %d: %v", r.account, r.err)
			continue
		}
		if len(r.got) != expect(r.account) {
			t.Errorf("account %d: got %d changes, want %d", r.account, len(r.got), expect(r.account))
		}
		last := make(map[int64]uint64)
		for _, c := range r.got {
			if r.account != 0 && c.AccountID != r.account {
				t.Errorf("account %d subscriber got a change of account %d", r.account, c.AccountID)
			}
			if c.ModSeq <= last[c.MailboxID] {
				t.Errorf("account %d: publisher %d: modseq %d after %d", r.account, c.MailboxID, c.ModSeq, last[c.MailboxID])
			}
			last[c.MailboxID] = c.ModSeq
		}
	}
	if got := h.Subscribers(); got != 0 {
		// Subscribers close after sending their result; allow them to finish.
		deadline := time.Now().Add(10 * time.Second)
		for h.Subscribers() != 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := h.Subscribers(); got != 0 {
			t.Errorf("Subscribers() = %d after all closed", got)
		}
	}
}

const benchAccounts = 2000

// BenchmarkPublish measures one Publish to one of 2000 subscribers on 2000
// accounts plus that subscriber's wake-up check and drain, in one goroutine:
// the CPU cost of the fan-out path without scheduler noise.
func BenchmarkPublish(b *testing.B) {
	h := New()
	subs := make([]store.Subscription, benchAccounts)
	for i := range subs {
		subs[i] = h.Subscribe(int64(i) + 1)
		defer subs[i].Close()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := subs[i]
		h.Publish(store.Change{AccountID: int64(i) + 1, ModSeq: uint64(i)})
		<-s.C()
		if cs, _ := s.Next(); len(cs) != 1 {
			b.Fatalf("got %d changes", len(cs))
		}
		i = (i + 1) % benchAccounts
	}
}

// BenchmarkPublishLatency measures the latency from Publish to a subscriber
// goroutine (one of 2000, each blocked on C as IMAP IDLE would be) having
// drained the change: publish, wake-up, Next, and the hand-back to the
// benchmark goroutine.
func BenchmarkPublishLatency(b *testing.B) {
	h := New()
	done := make(chan struct{})
	var wg sync.WaitGroup
	subs := make([]store.Subscription, benchAccounts)
	for i := range subs {
		s := h.Subscribe(int64(i) + 1)
		subs[i] = s
		wg.Go(func() {
			for range s.C() {
				if cs, _ := s.Next(); len(cs) > 0 {
					done <- struct{}{}
				}
			}
		})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Publish(store.Change{AccountID: int64(i) + 1, ModSeq: uint64(i)})
		<-done
		i = (i + 1) % benchAccounts
	}
	b.StopTimer()
	for _, s := range subs {
		s.Close()
	}
	wg.Wait()
}

// BenchmarkPublishParallel measures Publish throughput from concurrent
// publishers to 2000 accounts whose subscribers are not draining fast (the
// queues overflow and are discarded, as for a stalled client).
func BenchmarkPublishParallel(b *testing.B) {
	h := New()
	for i := range benchAccounts {
		defer h.Subscribe(int64(i) + 1).Close()
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			h.Publish(store.Change{AccountID: int64(i%benchAccounts) + 1, ModSeq: uint64(i)})
			i += 7
		}
	})
}

func TestResync(t *testing.T) {
	t.Parallel()
	h := New()
	a := h.Subscribe(1)
	defer a.Close()
	all := h.Subscribe(0)
	defer all.Close()
	h.Publish(change(1, 5))
	h.Resync()
	for _, s := range []store.Subscription{a, all} {
		select {
		case <-s.C():
		default:
			t.Fatal("no wake-up after Resync")
		}
		if cs, o := s.Next(); !o || cs != nil {
			t.Fatalf("after Resync: Next() = %v, %v; want nil, true", cs, o)
		}
	}
	h.Publish(change(1, 6))
	if cs, o := a.Next(); o || len(cs) != 1 || cs[0].ModSeq != 6 {
		t.Fatalf("after resync: Next() = %v, %v; want [6], false", cs, o)
	}
}
