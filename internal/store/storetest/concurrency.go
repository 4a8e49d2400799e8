package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"gannet/internal/store"
)

func concurrencyTests() []subtest {
	return []subtest{
		{"Deliver", testConcurrentDeliver},
	}
}

// testConcurrentDeliver: 16 goroutines deliver 50 messages each, every message to
// one shared mailbox and to the goroutine's own account, while another goroutine
// changes flags in the shared mailbox. Run it under -race.
func testConcurrentDeliver(t *testing.T, s store.Store) {
	const workers = 16
	perWorker := 50
	if testing.Short() || raceEnabled {
		perWorker = 10 // still 16 concurrent writers, which is what -race needs
	}
	shared := account(t, s, "shared@example.org")
	sharedInbox := mbox(t, s, shared.ID, "INBOX")
	own := make([]*store.Account, workers)
	for i := range own {
		own[i] = account(t, s, fmt.Sprintf("user%02d@example.org", i))
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	sharedUIDs := make([][]uint32, workers)
	ownUIDs := make([][]uint32, workers)
	stop := make(chan struct{})
	flagged := 0
	var flagErr error
	var fwg sync.WaitGroup
	fwg.Go(func() {
		// Single-message flag changes (each needs its own modseq).
		for {
			select {
			case <-stop:
				return
			default:
			}
			msgs, err := s.List(ctx, shared.ID, sharedInbox.ID, store.UIDSet{{Lo: 1, Hi: 40}}, store.ListOptions{})
			if err != nil {
				flagErr = err
				return
			}
			if len(msgs) == 0 {
				continue
			}
			uid := msgs[flagged%len(msgs)].UID
			if _, err := s.StoreFlags(ctx, shared.ID, sharedInbox.ID, set(uid), store.FlagsAdd, []string{fmt.Sprintf("kw%d", flagged%7)}, 0); err != nil {
				flagErr = err
				return
			}
			flagged++
		}
	})
	for w := range workers {
		wg.Go(func() {
			for j := range perWorker {
				raw := Msg{Subject: fmt.Sprintf("concurrent %d/%d", w, j), Body: fmt.Sprintf("from worker %d, message %d\n", w, j)}.Bytes()
				res, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{
					{AccountID: shared.ID}, {AccountID: own[w].ID},
				}})
				if err != nil {
					t.Errorf("worker %d Deliver %d: %v", w, j, err)
					return
				}
				if len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
					t.Errorf("worker %d Deliver %d: results %+v", w, j, res)
					return
				}
				sharedUIDs[w] = append(sharedUIDs[w], res[0].UID)
				ownUIDs[w] = append(ownUIDs[w], res[1].UID)
			}
		})
	}
	wg.Wait()
	close(stop)
	fwg.Wait()
	if flagErr != nil {
		t.Errorf("concurrent StoreFlags: %v", flagErr)
	}
	if t.Failed() {
		t.FailNow()
	}

	total := workers * perWorker
	seen := map[uint32]bool{}
	var max uint32
	for w := range workers {
		for i, u := range sharedUIDs[w] {
			if seen[u] {
				t.Errorf("shared UID %d returned twice", u)
			}
			seen[u] = true
			max = max32(max, u)
			if i > 0 && u <= sharedUIDs[w][i-1] {
				t.Errorf("worker %d: shared UIDs not increasing in its own order: %d then %d", w, sharedUIDs[w][i-1], u)
			}
		}
	}
	msgs := list(t, s, shared.ID, sharedInbox.ID, nil)
	if len(msgs) != total || len(seen) != total {
		t.Fatalf("shared mailbox has %d messages (%d distinct UIDs returned), want %d", len(msgs), len(seen), total)
	}
	modseqs := map[uint64]uint32{}
	for i, m := range msgs {
		if !seen[m.UID] {
			t.Errorf("listed UID %d was not returned by Deliver", m.UID)
		}
		if i > 0 && m.UID <= msgs[i-1].UID {
			t.Errorf("List not in ascending UID order: %d then %d", msgs[i-1].UID, m.UID)
		}
		if other, dup := modseqs[m.ModSeq]; dup {
			t.Errorf("messages %d and %d share ModSeq %d", other, m.UID, m.ModSeq)
		}
		modseqs[m.ModSeq] = m.UID
	}
	mb := mboxByID(t, s, shared.ID, sharedInbox.ID)
	if mb.Messages != int64(total) || mb.UIDNext <= max {
		t.Errorf("shared mailbox: Messages %d UIDNEXT %d, want %d and > %d", mb.Messages, mb.UIDNext, total, max)
	}
	if acc := accountByID(t, s, shared.ID); acc.UsedMessages != int64(total) {
		t.Errorf("shared account UsedMessages %d, want %d", acc.UsedMessages, total)
	}
	for w, a := range own {
		msgs := list(t, s, a.ID, mbox(t, s, a.ID, "INBOX").ID, nil)
		if len(msgs) != perWorker {
			t.Errorf("account %s has %d messages, want %d", a.Address, len(msgs), perWorker)
		}
		ms := map[uint64]bool{}
		for i, m := range msgs {
			if i < len(ownUIDs[w]) && m.UID != ownUIDs[w][i] {
				t.Errorf("account %s: message %d has UID %d, Deliver said %d", a.Address, i, m.UID, ownUIDs[w][i])
			}
			if ms[m.ModSeq] {
				t.Errorf("account %s: ModSeq %d used twice", a.Address, m.ModSeq)
			}
			ms[m.ModSeq] = true
		}
	}
	t.Logf("%d deliveries with %d concurrent flag changes", total, flagged)
}

func max32(a, b uint32) uint32 {
	if a > b {
		return a
	}
	return b
}
