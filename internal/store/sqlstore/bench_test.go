package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
	defer reportCPU(b)()
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

// BenchmarkOpenInlineMailboxes: read 2,000 distinct 13 KB messages that
// compress about 2.5x (about 10 MB of database, more than the readers' page
// caches hold), in turn: what a full POP3 download of ten
// maildrops reads. Without mmap on the read connections each message costs
// several pread calls for its overflow pages.
func BenchmarkOpenInlineMailboxes(b *testing.B) {
	s, id := benchStore(b)
	ctx := context.Background()
	const n = 2000
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				raw := mailboxMessage(i)
				if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: id}}}); err != nil {
					mu.Lock()
					b.Error(err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	mb, _ := s.Mailbox(ctx, id, "INBOX")
	msgs, err := s.List(ctx, id, mb.ID, nil, store.ListOptions{})
	if err != nil || len(msgs) != n {
		b.Fatal(len(msgs), err)
	}
	// As on a server that has run a while: the messages are in the database
	// file, not in the WAL (readers pread WAL frames whatever mmap_size says).
	ck, err := sql.Open("sqlite", filepath.Join(s.dir, "gannet.db"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ck.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	ck.Close()
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		m := msgs[i%n]
		i += 7 // not in delivery order
		rc, err := s.Open(ctx, m.BlobID)
		if err != nil {
			b.Fatal(err)
		}
		if k, err := io.Copy(io.Discard, rc); err != nil || k != m.Size {
			b.Fatal(k, err)
		}
		rc.Close()
	}
}

// mailboxMessage is a distinct 13 KB message of pseudo-random words, which
// zstd compresses about as much as real mail.
func mailboxMessage(i int) []byte {
	words := strings.Fields("the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people how too little state good very make world still own see men work long get here between both life being under never day same another know while last might us great old year off come since against go came right used take three")
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender%d@example.org\r\nTo: bench@gannet.test\r\nSubject: mailbox message %d\r\n"+
		"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\nMessage-ID: <m%d@example.org>\r\n\r\n", i, i, i)
	x := uint32(i)*2654435761 + 1
	col := 0
	for b.Len() < 13000 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		w := words[x%uint32(len(words))]
		if col+len(w) > 72 {
			b.WriteString("\r\n")
			col = 0
		}
		b.WriteString(w + " ")
		col += len(w) + 1
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// reportCPU reports the process's CPU time (user+system, from getrusage) per
// operation: on a machine shared with other work it varies far less than the
// wall time does. Call it just before the loop and defer what it returns.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpu()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
