package sqlstore

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/store"
)

func benchStore(b *testing.B) (*Store, int64) {
	b.Helper()
	ctx := context.Background()
	s := openTest(b)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		b.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "bench@gannet.test", "pw")
	if err != nil {
		b.Fatal(err)
	}
	return s, a.ID
}

func message4K(n int64) []byte {
	head := fmt.Sprintf("From: sender@example.org\r\nTo: bench@gannet.test\r\nSubject: benchmark message %d\r\n"+
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <%d@example.org>\r\n\r\n", n, n)
	line := "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
	return []byte(head + strings.Repeat(line, (4096-len(head))/len(line)))
}

// BenchmarkDeliver: 4 KB messages, 16 parallel deliverers, fsync on (durable).
// Reports messages/s; each delivery is a distinct message (no dedupe).
func BenchmarkDeliver(b *testing.B) {
	s, id := benchStore(b)
	ctx := context.Background()
	var n atomic.Int64
	// RunParallel starts parallelism × GOMAXPROCS goroutines: aim at 16.
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			raw := message4K(n.Add(1))
			if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: id}}}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// fill100k builds a 100,000-message mailbox cheaply: one delivery, then COPY of the
// whole mailbox into itself until it is large enough (rows share one blob).
func fill100k(b *testing.B) (*Store, int64, int64) {
	s, id := benchStore(b)
	ctx := context.Background()
	mb, err := s.Mailbox(ctx, id, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Deliver(ctx, store.Delivery{Raw: message4K(0), Recipients: []store.Recipient{{AccountID: id}}}); err != nil {
		b.Fatal(err)
	}
	for total := int64(1); total < 100000; total *= 2 {
		hi := uint32(min(total, 100000-total))
		if _, err := s.Copy(ctx, id, mb.ID, store.UIDSet{{Lo: 1, Hi: hi}}, mb.ID); err != nil {
			b.Fatal(err)
		}
	}
	mb, _ = s.Mailbox(ctx, id, "INBOX")
	if mb.Messages != 100000 {
		b.Fatalf("mailbox has %d messages", mb.Messages)
	}
	return s, id, mb.ID
}

// Benchmark100kListFlags: list UIDs and flags of all 100,000 messages.
func Benchmark100kListFlags(b *testing.B) {
	s, id, mb := fill100k(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		msgs, err := s.List(ctx, id, mb, nil, store.ListOptions{})
		if err != nil || len(msgs) != 100000 {
			b.Fatal(len(msgs), err)
		}
	}
}

// Benchmark100kFetchOne: read one message of a 100,000-message mailbox.
func Benchmark100kFetchOne(b *testing.B) {
	s, id, mb := fill100k(b)
	ctx := context.Background()
	b.ResetTimer()
	uid := uint32(1)
	for b.Loop() {
		uid = uid*7919%100000 + 1
		msgs, err := s.List(ctx, id, mb, store.UIDSet{{Lo: uid, Hi: uid}}, store.ListOptions{Parsed: true})
		if err != nil || len(msgs) != 1 {
			b.Fatal(err)
		}
		rc, err := s.Open(ctx, msgs[0].BlobID)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != msgs[0].Size {
			b.Fatal(n, err)
		}
		rc.Close()
	}
}

// BenchmarkOpenInline: read a 16 KB message kept inside the database (the
// POP3 RETR and IMAP FETCH BODY[] path), 200 distinct messages in turn.
func BenchmarkOpenInline(b *testing.B) {
	s, id := benchStore(b)
	ctx := context.Background()
	var blobs []string
	var sizes []int64
	for i := range 200 {
		raw := message4K(int64(i))
		raw = append(raw, []byte(strings.Repeat(fmt.Sprintf("line %d of a longer body, with some words in it.\r\n", i), 240))...)
		if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: id}}}); err != nil {
			b.Fatal(err)
		}
	}
	mb, _ := s.Mailbox(ctx, id, "INBOX")
	msgs, err := s.List(ctx, id, mb.ID, nil, store.ListOptions{})
	if err != nil || len(msgs) != 200 {
		b.Fatal(len(msgs), err)
	}
	for _, m := range msgs {
		blobs = append(blobs, m.BlobID)
		sizes = append(sizes, m.Size)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		rc, err := s.Open(ctx, blobs[i%200])
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, rc); err != nil || n != sizes[i%200] {
			b.Fatal(n, err)
		}
		rc.Close()
		i++
	}
}
