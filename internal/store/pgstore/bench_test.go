package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// Delivery benchmarks through the public store API, on the test binary's
// PostgreSQL (a throwaway cluster: the numbers are relative, for comparing
// changes and against sqlstore's bench_test.go, not absolute).
//
//	go test ./internal/store/pgstore/ -run '^$' -bench Deliver -benchtime 2000x

// benchMessage is a 4 KB message; benchUnique makes each delivery distinct
// content, so that every delivery stores a new body, as real mail does.
func benchMessage() []byte {
	line := "A line of an ordinary message body, about seventy bytes long here.\n"
	body := strings.Repeat(line, 4096/len(line))
	return storetest.Msg{Subject: "bench", Body: body}.Bytes()
}

func benchUnique(raw []byte, i int64) []byte {
	return append([]byte(fmt.Sprintf("X-Bench: %d\r\n", i)), raw...)
}

// benchAccounts creates n accounts on a fresh store.
func benchAccounts(b *testing.B, n int) (*Store, []store.Recipient) {
	b.Helper()
	s := openTest(b)
	ctx := b.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		b.Fatal(err)
	}
	var rcpts []store.Recipient
	for i := range n {
		a, err := s.AddAccount(ctx, fmt.Sprintf("u%d@example.org", i), "bench password")
		if err != nil {
			b.Fatal(err)
		}
		rcpts = append(rcpts, store.Recipient{AccountID: a.ID})
	}
	return s, rcpts
}

// benchDeliver delivers unique 4 KB messages to rcpts from parallel
// goroutines (b.RunParallel: GOMAXPROCS of them, like concurrent SMTP
// sessions), each delivery one transaction.
func benchDeliver(b *testing.B, recipients int) {
	s, rcpts := benchAccounts(b, recipients)
	raw := benchMessage()
	var seq atomic.Int64
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d := store.Delivery{Raw: benchUnique(raw, seq.Add(1)), Recipients: rcpts}
			if _, err := s.Deliver(context.Background(), d); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDeliver: one recipient per delivery.
func BenchmarkDeliver(b *testing.B) { benchDeliver(b, 1) }

// BenchmarkDeliverMany: ten recipients per delivery (one body, ten messages,
// ten account locks in id order).
func BenchmarkDeliverMany(b *testing.B) { benchDeliver(b, 10) }

// BenchmarkPushAcrossNodes: the latency of the change feed from one node to
// another (issue 14: "p50 under 50 ms node to node on loopback"): node A
// delivers, a subscriber on node B (another Store on the same database, as
// another `gannet serve` would be) waits for the change. Each iteration is
// one delivery; the metrics are the time from the call to Deliver on A to
// the change reaching B's subscriber, p50 and p99, in milliseconds.
//
//	go test ./internal/store/pgstore/ -run '^$' -bench PushAcrossNodes -benchtime 500x
func BenchmarkPushAcrossNodes(b *testing.B) {
	a, rcpts := benchAccounts(b, 1)
	other := openDSN(b, a.dsn)
	sub := other.Subscribe(rcpts[0].AccountID)
	defer sub.Close()
	raw := benchMessage()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if _, err := a.Deliver(b.Context(), store.Delivery{Raw: benchUnique(raw, int64(i)), Recipients: rcpts}); err != nil {
			b.Fatal(err)
		}
		for got := false; !got; {
			select {
			case <-sub.C():
				cs, o := sub.Next()
				got = o || len(cs) > 0
			case <-time.After(10 * time.Second):
				b.Fatal("no change on the other node within 10 s")
			}
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
