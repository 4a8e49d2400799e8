package imapserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// BenchmarkPushLatency measures how long a flag change committed by the
// store takes to reach a session in IDLE as an untagged FETCH: from the
// return of StoreFlags (commit done) and from its call.
func BenchmarkPushLatency(b *testing.B) {
	e := newEnv(b)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	w.idle("b")
	inbox := e.mailbox("INBOX")
	ctx := context.Background()
	set := store.UIDSet{{Lo: uids[0], Hi: uids[0]}}
	fromCommit := make([]time.Duration, 0, b.N)
	fromCall := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op := store.FlagsAdd
		if i%2 == 1 {
			op = store.FlagsRemove
		}
		start := time.Now()
		if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, set, op, []string{store.FlagFlagged}, 0); err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		if l := w.line(); !strings.HasPrefix(l, "* 1 FETCH") {
			b.Fatalf("push: %q", l)
		}
		got := time.Now()
		fromCommit = append(fromCommit, max(got.Sub(committed), 0))
		fromCall = append(fromCall, got.Sub(start))
	}
	b.StopTimer()
	w.done("b")
	pct := func(d []time.Duration, p int) float64 {
		slices.Sort(d)
		return float64(d[len(d)*p/100].Microseconds()) / 1000
	}
	b.ReportMetric(pct(fromCommit, 50), "p50-commit-ms")
	b.ReportMetric(pct(fromCommit, 99), "p99-commit-ms")
	b.ReportMetric(pct(fromCall, 50), "p50-call-ms")
}

// bigMailbox fills INBOX with n messages fast: one delivery, then copies of
// the mailbox into itself; plus one distinct "needle" message at the end.
func bigMailbox(b *testing.B, e *env, n int) {
	b.Helper()
	ctx := context.Background()
	e.deliver("INBOX", storetest.Msg{Subject: "haystack", Body: strings.Repeat("straw ", 300) + "\n"})
	inbox := e.mailbox("INBOX")
	have := 1
	for have < n-1 {
		k := min(have, n-1-have)
		if _, err := e.st.Copy(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: 1, Hi: uint32(k)}}, inbox.ID); err != nil {
			b.Fatal(err)
		}
		have += k
	}
	e.deliver("INBOX", storetest.Msg{Subject: "needle"})
}

// BenchmarkBigMailbox runs the big-mailbox commands against 100,000 messages.
func BenchmarkBigMailbox(b *testing.B) {
	const n = 100_000
	e := newEnv(b)
	bigMailbox(b, e, n)
	w := e.login()
	lines := w.cmd("s SELECT INBOX")
	if !hasLine(lines, fmt.Sprintf("* %d EXISTS", n)) {
		b.Fatalf("SELECT: %q", lines[:1])
	}
	b.Run("SELECT", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			w.cmd("a SELECT INBOX")
		}
	})
	b.Run("UIDFetchFlags", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if lines := w.cmd("a UID FETCH 1:* (FLAGS)"); len(lines) != n {
				b.Fatalf("%d FETCH lines", len(lines))
			}
		}
	})
	b.Run("UIDSearchHeader", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if lines := w.cmd("a UID SEARCH SUBJECT needle"); len(lines) != 1 || len(strings.Fields(lines[0])) != 3 {
				b.Fatalf("SEARCH: %q", lines)
			}
		}
	})
	b.Run("FetchBody", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if lines := w.cmd(fmt.Sprintf("a FETCH %d BODY.PEEK[]", 1+i%n)); len(lines) != 1 {
				b.Fatalf("FETCH: %q", lines)
			}
		}
	})
}

// BenchmarkIdleMemory holds 2,000 sessions in IDLE and reports the Go heap
// and stack they use per connection (the clients are bare net.Conns in the
// same process, a few hundred bytes each, included).
func BenchmarkIdleMemory(b *testing.B) {
	const conns = 2000
	e := newEnv(b)
	e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	for i := 0; i < b.N; i++ {
		before := memUse()
		held := make([]net.Conn, 0, conns)
		for j := 0; j < conns; j++ {
			nc, err := net.Dial("tcp", e.addr)
			if err != nil {
				b.Fatal(err)
			}
			r := bufio.NewReaderSize(nc, 512)
			expectLine(b, r, "* OK")
			fmt.Fprintf(nc, "a LOGIN %s \"%s\"\r\nb SELECT INBOX\r\nc IDLE\r\n", testUser, testPass)
			for {
				if l := expectLine(b, r, ""); strings.HasPrefix(l, "+ ") {
					break
				}
			}
			held = append(held, nc)
		}
		after := memUse()
		b.ReportMetric(float64(after-before)/conns, "bytes/conn")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		for _, nc := range held {
			nc.Close()
		}
	}
}

func expectLine(b *testing.B, r *bufio.Reader, prefix string) string {
	l, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(l, prefix) {
		b.Fatalf("read %q: %v", l, err)
	}
	return l
}

// memUse is the Go heap and stack in use after a full collection.
func memUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// BenchmarkAppendSplitLiteral: APPEND with a synchronizing literal, the
// literal and the CRLF ending the command written separately, from a client
// that keeps Nagle's algorithm on, as Python's imaplib does. Without a quick
// ACK after the continuation request each APPEND waited ~43 ms for our
// delayed ACK; now it takes the delivery's time.
func BenchmarkAppendSplitLiteral(b *testing.B) {
	e := newEnv(b)
	w := e.login()
	if err := w.nc.(*net.TCPConn).SetNoDelay(false); err != nil {
		b.Fatal(err)
	}
	msg := "Subject: split literal\r\n\r\n" + strings.Repeat("z", 2000) + "\r\n"
	for b.Loop() {
		fmt.Fprintf(w.nc, "A APPEND INBOX {%d}\r\n", len(msg))
		if l := w.line(); !strings.HasPrefix(l, "+ ") {
			b.Fatalf("continuation: %q", l)
		}
		io.WriteString(w.nc, msg)
		io.WriteString(w.nc, "\r\n")
		for {
			l := w.line()
			if strings.HasPrefix(l, "A ") {
				if !strings.HasPrefix(l, "A OK") {
					b.Fatalf("APPEND: %q", l)
				}
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/append")
}
