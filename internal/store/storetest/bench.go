package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/store"
)

// RunBenchmarks runs the store's hot-path benchmarks. open returns a fresh, empty
// store and registers its cleanup on the given testing.TB.
func RunBenchmarks(b *testing.B, open func(tb testing.TB) store.Store) {
	b.Run("Deliver", func(b *testing.B) {
		s := open(b)
		a := account(b, s, "alice@example.org")
		raw := Msg{Subject: "bench", Body: "A typical short message body.\n"}.Bytes()
		b.SetBytes(int64(len(raw)))
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			d := store.Delivery{Raw: benchUnique(raw, i), Recipients: []store.Recipient{{AccountID: a.ID}}}
			if _, err := s.Deliver(context.Background(), d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Deliver10Recipients", func(b *testing.B) {
		s := open(b)
		var rcpts []store.Recipient
		for i := range 10 {
			rcpts = append(rcpts, store.Recipient{AccountID: account(b, s, fmt.Sprintf("u%d@example.org", i)).ID})
		}
		raw := Msg{Subject: "bench", Body: "To ten people.\n"}.Bytes()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := s.Deliver(context.Background(), store.Delivery{Raw: benchUnique(raw, i), Recipients: rcpts}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DeliverParallel", func(b *testing.B) {
		// Concurrent deliveries are group-committed; this is the number to beat.
		s := open(b)
		a := account(b, s, "alice@example.org")
		raw := Msg{Subject: "bench", Body: "Parallel.\n"}.Bytes()
		var seq atomic.Int64
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d := store.Delivery{Raw: benchUnique(raw, int(seq.Add(1))), Recipients: []store.Recipient{{AccountID: a.ID}}}
				if _, err := s.Deliver(context.Background(), d); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	withMailbox := func(b *testing.B, n int) (store.Store, *store.Account, *store.Mailbox) {
		s := open(b)
		a := account(b, s, "alice@example.org")
		inbox := mbox(b, s, a.ID, "INBOX")
		for i := range n {
			raw := Msg{Subject: fmt.Sprintf("message %d", i), Body: fmt.Sprintf("body %d with some searchable words\n", i)}.Bytes()
			appendMsg(b, s, a.ID, inbox.ID, raw, nil, time.Time{})
		}
		return s, a, inbox
	}
	b.Run("StoreFlags", func(b *testing.B) {
		s, a, inbox := withMailbox(b, 100)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			op := store.FlagsAdd
			if i%2 == 1 {
				op = store.FlagsRemove
			}
			if _, err := s.StoreFlags(context.Background(), a.ID, inbox.ID, set(uint32(i%100+1)), op, []string{store.FlagSeen}, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("List1000", func(b *testing.B) {
		s, a, inbox := withMailbox(b, 1000)
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.List(context.Background(), a.ID, inbox.ID, nil, store.ListOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SearchBody1000", func(b *testing.B) {
		s, a, inbox := withMailbox(b, 1000)
		c := store.Criteria{Body: []string{"body 999 with"}}
		b.ResetTimer()
		for b.Loop() {
			if _, err := s.Search(context.Background(), a.ID, inbox.ID, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchUnique makes each benchmark message distinct, so blobs are not shared.
func benchUnique(raw []byte, i int) []byte {
	return append([]byte(fmt.Sprintf("X-Bench: %d\r\n", i)), raw...)
}
