package sqlstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

// TestWALStartsOver writes steadily for longer than several checkpoint periods:
// the WAL must start over from its beginning (it used to grow without bound
// while writes went on) and stay far smaller than everything written to it.
func TestWALStartsOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{FastPasswords: true, checkpointEvery: 20 * time.Millisecond, walRestartFrames: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "u@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				d := store.Delivery{Raw: testMessage(fmt.Sprintf("g%d-%d", g, i)),
					Recipients: []store.Recipient{{AccountID: a.ID}}}
				if _, err := s.Deliver(ctx, d); err != nil {
					errs <- err
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.WriterStats()
	if st.Restarts == 0 {
		t.Fatalf("WAL never started over: %+v", st)
	}
	// The WAL header's checkpoint sequence number (bytes 12-15, big-endian) is
	// incremented each time SQLite starts the log over.
	hdr, err := os.ReadFile(filepath.Join(dir, "gannet.db-wal"))
	if err != nil || len(hdr) < 32 {
		t.Fatalf("read WAL: %d bytes, %v", len(hdr), err)
	}
	if seq := binary.BigEndian.Uint32(hdr[12:16]); seq == 0 {
		t.Fatalf("WAL checkpoint sequence is 0 after %d commits and %d full checkpoints: the log never started over", st.Batches, st.Restarts)
	}
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if mb.Messages != writers*each {
		t.Fatalf("INBOX holds %d messages, want %d", mb.Messages, writers*each)
	}
	t.Logf("%+v, WAL %d bytes", st, len(hdr))
}

// TestBatchFailureIsolated runs many deliveries at once so that they share
// transactions; the ones that fail (at their third recipient) must leave
// nothing behind, and the others must all be stored.
func TestBatchFailureIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, ids, boom := failingThirdRecipient(t)
	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	good := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every third delivery has three recipients and fails at the last.
			d := store.Delivery{Raw: testMessage(fmt.Sprintf("m%d", i))}
			rcpts := ids[:2]
			if i%3 == 0 {
				rcpts = ids
			}
			for _, id := range rcpts {
				d.Recipients = append(d.Recipients, store.Recipient{AccountID: id})
			}
			_, err := s.Deliver(ctx, d)
			if i%3 == 0 {
				if !errors.Is(err, boom) {
					t.Errorf("delivery %d: err %v, want the injected failure", i, err)
				}
				return
			}
			if err != nil {
				t.Errorf("delivery %d: %v", i, err)
				return
			}
			mu.Lock()
			good++
			mu.Unlock()
		}()
	}
	wg.Wait()
	for k, id := range ids {
		want := good
		if k == 2 {
			want = 0
		}
		mb, err := s.Mailbox(ctx, id, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.AccountByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if int(mb.Messages) != want || int(mb.UIDNext) != want+1 || int(a.UsedMessages) != want {
			t.Fatalf("account %d: %d messages, uidnext %d, usage %d; want %d", k, mb.Messages, mb.UIDNext, a.UsedMessages, want)
		}
	}
	st := s.WriterStats()
	t.Logf("%d deliveries in %d commits", st.Ops, st.Batches)
}

// TestWriterTempStoreMemory: the writer's savepoint sub-journals must stay in
// memory (temp_store=2); spilled to temporary files they cost two pwrites per
// page changed by every operation after the first in a batch.
func TestWriterTempStoreMemory(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	var mode int
	err := s.w.do(context.Background(), func(ctx context.Context, tx *wtx) error {
		return tx.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&mode)
	})
	if err != nil {
		t.Fatal(err)
	}
	if mode != 2 {
		t.Fatalf("writer temp_store = %d, want 2 (MEMORY)", mode)
	}
}

// TestAloneOpStartsBatch: an operation that may change many rows never joins
// an open batch as a later operation (whose savepoint would copy every page it
// changes into memory): it waits and starts the next batch, while the small
// operations queued around it are still batched.
func TestAloneOpStartsBatch(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	release := holdWriter(t, s)
	// Queue, in this order while the first batch is open: small, alone, small.
	type result struct {
		name string
		sp   bool
		err  error
	}
	results := make(chan result, 3)
	queue := func(name string, alone bool) {
		fn := func(ctx context.Context, tx *wtx) error {
			results <- result{name: name, sp: tx.inSavepoint}
			return nil
		}
		want := len(s.w.ops) + 1
		go func() {
			var err error
			if alone {
				err = s.w.doAlone(ctx, fn)
			} else {
				err = s.w.do(ctx, fn)
			}
			if err != nil {
				results <- result{name: name, err: err}
			}
		}()
		waitQueued(t, s, want)
	}
	queue("small1", false)
	queue("big", true)
	queue("small2", false)
	release()
	got := map[string]bool{}
	var order []string
	for range 3 {
		r := <-results
		if r.err != nil {
			t.Fatalf("%s: %v", r.name, r.err)
		}
		got[r.name] = r.sp
		order = append(order, r.name)
	}
	if fmt.Sprint(order) != "[small1 big small2]" {
		t.Fatalf("ran in order %v", order)
	}
	if !got["small1"] || got["big"] || !got["small2"] {
		t.Fatalf("in a savepoint: small1 %v, big %v, small2 %v; want true, false, true", got["small1"], got["big"], got["small2"])
	}
}

// TestLargeOpDeferred: an operation that finds, as a later operation of a
// batch, that it would change more than aloneRows messages is undone (what it
// wrote is gone) and run again first in the next batch.
func TestLargeOpDeferred(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	release := holdWriter(t, s)
	var runs []bool // inSavepoint of each run
	bigDone := make(chan error, 1)
	go func() {
		bigDone <- s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
			runs = append(runs, tx.inSavepoint)
			if _, err := tx.ExecContext(ctx, "INSERT INTO meta(key, value) VALUES('big-op', 'x')"); err != nil {
				return err
			}
			return tx.alone(aloneRows + 1)
		})
	}()
	waitQueued(t, s, 1)
	release()
	if err := <-bigDone; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(runs) != "[true false]" {
		t.Fatalf("runs in a savepoint: %v, want [true false]", runs)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM meta WHERE key = 'big-op'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("big op's row is there %d times, want once (its first run undone)", n)
	}
	if d := s.WriterStats().Deferred; d != 1 {
		t.Fatalf("Deferred = %d, want 1", d)
	}
}

// TestLargeStoreFlagsInBatch: a STORE over more than aloneRows messages that
// arrives while a batch is open is deferred to the next batch and completes.
func TestLargeStoreFlagsInBatch(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "big@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	const n = aloneRows + 5
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Append(ctx, a.ID, inbox.ID, testMessage(fmt.Sprint(i)), nil, time.Time{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	before := s.WriterStats().Deferred
	type out struct {
		res *store.StoreResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := s.StoreFlags(ctx, a.ID, inbox.ID, nil, store.FlagsAdd, []string{`\Seen`}, 0)
		done <- out{res, err}
	}()
	waitQueued(t, s, 1)
	release()
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if len(o.res.Updated) != n {
		t.Fatalf("STORE updated %d messages, want %d", len(o.res.Updated), n)
	}
	if d := s.WriterStats().Deferred - before; d != 1 {
		t.Fatalf("STORE deferred %d times, want 1", d)
	}
	mb, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if mb.Unseen != 0 {
		t.Fatalf("unseen = %d after the STORE, want 0", mb.Unseen)
	}
}

// holdWriter keeps the writer busy with an open batch until release is called,
// so that operations submitted meanwhile queue up behind it.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	hold := make(chan struct{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.w.do(context.Background(), func(ctx context.Context, tx *wtx) error {
			close(started)
			<-hold
			return nil
		})
	}()
	<-started
	return func() {
		close(hold)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// waitQueued waits until n operations wait in the writer's queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(s.w.ops) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d operations queued, want %d", len(s.w.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}
