package pgstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// messageBytes reads a message's bytes through its body row.
func messageBytes(ctx context.Context, f *fixture, dec *zstd.Decoder, uid uint32) ([]byte, error) {
	var bodyID int64
	if err := f.s.pool.QueryRow(ctx, `SELECT body_id FROM messages WHERE mailbox_id = $1 AND uid = $2`,
		f.mailbox, int64(uid)).Scan(&bodyID); err != nil {
		return nil, fmt.Errorf("message %d: %w", uid, err)
	}
	return readBody(ctx, f.s, dec, bodyID, 1<<30)
}

// TestGCRace races GC (grace 0, so that only the locking protocol of gc.go
// protects bodies) against deliveries of one content, each of which then
// expunges its message so that the body keeps becoming garbage (each keeps
// its last one, which must survive a final GC). Deliveries
// pause between storing the body and inserting their message, the window GC
// must respect. No delivery may fail, no GC may fail, and every delivered
// message must read back its bytes.
//
// The deliveries are direct SQL following gc.go's step 1 (the fixture's
// storeBody), written before Deliver existed on this branch.
func TestGCRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.s.SetGCGrace(0)
	ctx := t.Context()
	raw := storetest.Msg{Subject: "shared", Body: "One content, delivered again and again.\n" + longLine + "\n"}.Bytes()
	const workers, rounds = 3, 60
	var done atomic.Bool
	var removed atomic.Int64
	var gcErr error
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	go func() {
		defer gcWG.Done()
		for !done.Load() {
			n, err := f.s.GC(ctx)
			if err != nil {
				gcErr = err
				return
			}
			removed.Add(int64(n))
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
			if err != nil {
				errs <- err
				return
			}
			defer dec.Close()
			for i := range rounds {
				uid := uint32(w*1000 + i + 1)
				pause := func() { time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) }
				if err := f.deliverRow(ctx, testMsg{uid: uid, raw: raw}, pause); err != nil {
					errs <- fmt.Errorf("delivery %d: %w", uid, err)
					return
				}
				got, err := messageBytes(ctx, f, dec, uid)
				if err != nil {
					errs <- fmt.Errorf("read %d: %w", uid, err)
					return
				}
				if !bytes.Equal(got, raw) {
					errs <- fmt.Errorf("message %d reads %d bytes, want the %d delivered", uid, len(got), len(raw))
					return
				}
				if i < rounds-1 { // keep the last, which the final GC must leave alone
					if _, err := f.s.pool.Exec(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND uid = $2`,
						f.mailbox, int64(uid)); err != nil {
						errs <- err
						return
					}
					// A gap in which no message references the body.
					time.Sleep(time.Duration(rand.IntN(6000)) * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	gcWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if gcErr != nil {
		t.Errorf("GC: %v", gcErr)
	}
	if removed.Load() == 0 {
		t.Errorf("GC removed nothing: the race was not exercised")
	}
	// What survived is intact.
	if _, err := f.s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	kept := 0
	for w := range workers {
		for i := rounds - 1; i < rounds; i++ {
			got, err := messageBytes(ctx, f, dec, uint32(w*1000+i+1))
			if err != nil || !bytes.Equal(got, raw) {
				t.Errorf("kept message %d: %d bytes, %v", w*1000+i+1, len(got), err)
			}
			kept++
		}
	}
	t.Logf("GC removed the shared body %d times; %d messages kept", removed.Load(), kept)
}

// TestGCBatches: GC keeps young bodies (grace period) and referenced ones,
// removes every other body with its chunks across several batches, and a
// second run finds nothing.
func TestGCBatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	const garbage = 2*gcBatch + 50
	err := f.s.write(ctx, func(ctx context.Context, t *tx) error {
		for i := range garbage {
			if _, err := f.storeBody(ctx, t, []byte(fmt.Sprintf("Subject: %d\r\n\r\ngarbage\r\n", i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	keep := storetest.Msg{Subject: "kept", Body: longLine + "\n"}.Bytes()
	f.deliver(t, testMsg{uid: 1, raw: keep})

	if n, err := f.s.GC(ctx); err != nil || n != 0 {
		t.Fatalf("GC within the grace period = %d, %v; want 0 removed", n, err)
	}
	f.s.SetGCGrace(0)
	if n, err := f.s.GC(ctx); err != nil || n != garbage {
		t.Fatalf("GC = %d, %v; want %d removed", n, err, garbage)
	}
	var bodies, chunks int
	if err := f.s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM bodies), (SELECT count(*) FROM body_chunks)`).Scan(&bodies, &chunks); err != nil {
		t.Fatal(err)
	}
	if want := (len(keep) + testChunk - 1) / testChunk; bodies != 1 || chunks != want {
		t.Errorf("after GC: %d bodies, %d chunks; want 1 body with %d chunks", bodies, chunks, want)
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if got, err := messageBytes(ctx, f, dec, 1); err != nil || !bytes.Equal(got, keep) {
		t.Errorf("referenced message after GC: %q, %v", got, err)
	}
	if n, err := f.s.GC(ctx); err != nil || n != 0 {
		t.Errorf("second GC = %d, %v; want 0", n, err)
	}
}

// TestGCRaceDeliver is TestGCRace through the public API: Deliver, Open and
// ExpungeUIDs of one content by several accounts while GC (grace 0) runs. It
// checks the delivery path's side of gc.go's protocol (the body insert must
// lock the row it reuses: ON CONFLICT DO UPDATE), so it fails until Deliver
// exists on the branch.
func TestGCRaceDeliver(t *testing.T) {
	t.Parallel()
	gcRaceDeliver(t, openTest(t))
}

// gcRaceDeliver runs TestGCRaceDeliver on s (objects_test.go runs it with
// an object store too).
func gcRaceDeliver(t *testing.T, s *Store) {
	s.SetGCGrace(0)
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	raw := storetest.Msg{Subject: "shared", Body: "One content for everyone.\n" + longLine + "\n"}.Bytes()
	blob := store.Ingest(raw).ID
	const workers, rounds = 3, 60
	var accounts []int64
	for w := range workers {
		a, err := s.AddAccount(ctx, fmt.Sprintf("u%d@example.org", w), "a password")
		if err != nil {
			t.Fatal(err)
		}
		accounts = append(accounts, a.ID)
	}
	var done atomic.Bool
	var removed atomic.Int64
	gcErr := make(chan error, 1)
	go func() {
		defer close(gcErr)
		for !done.Load() {
			n, err := s.GC(ctx)
			if err != nil {
				gcErr <- err
				return
			}
			removed.Add(int64(n))
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for _, acct := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				res, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: acct}}})
				if err == nil {
					err = res[0].Err
				}
				if err != nil {
					errs <- fmt.Errorf("account %d: delivery %d: %w", acct, i, err)
					return
				}
				rc, err := s.Open(ctx, blob)
				var got []byte
				if err == nil {
					got, err = io.ReadAll(rc)
					rc.Close()
				}
				if err != nil || !bytes.Equal(got, raw) {
					errs <- fmt.Errorf("account %d: message %d reads %d bytes, %v", acct, res[0].UID, len(got), err)
					return
				}
				if i < rounds-1 {
					if _, err := s.ExpungeUIDs(ctx, acct, res[0].MailboxID, []uint32{res[0].UID}); err != nil {
						errs <- err
						return
					}
					time.Sleep(time.Duration(rand.IntN(6000)) * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	done.Store(true)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-gcErr; err != nil {
		t.Errorf("GC: %v", err)
	}
	if removed.Load() == 0 {
		t.Errorf("GC removed nothing: the race was not exercised")
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(ctx, blob)
	if err != nil {
		t.Fatalf("the kept messages' body after GC: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, raw) {
		t.Errorf("the kept messages' body after GC: %d bytes, %v", len(got), err)
	}
}
