package imapserver_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// hugeMessages is the size of BenchmarkHugeMailbox's INBOX;
// GANNET_BENCH_MESSAGES overrides it for a quicker run.
func hugeMessages(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("GANNET_BENCH_MESSAGES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2000 {
			b.Fatalf("GANNET_BENCH_MESSAGES=%q: want a number of at least 2000", v)
		}
	}
	return n
}

// BenchmarkHugeMailbox measures the targets of docs/ARCHITECTURE.md, "Huge
// mailboxes", against an INBOX of a million messages: SELECT (time, and
// the heap the selected session keeps), UID FETCH 1:* (FLAGS), and a
// QRESYNC SELECT that resynchronises 1,000 changed messages. The mailbox is
// built once per run, in the store directly (one APPEND, then copies of the
// mailbox into itself; every message \Seen but the last 10), which takes
// well under a minute on SQLite. Run it alone, with a short -benchtime:
//
//	go test -run '^$' -bench HugeMailbox -benchtime 5x ./internal/imapserver/
func BenchmarkHugeMailbox(b *testing.B) {
	n := hugeMessages(b)
	e := newEnv(b)
	ctx := context.Background()
	inbox := e.mailbox("INBOX")
	start := time.Now()
	if _, err := e.st.Append(ctx, e.acct.ID, inbox.ID, storetest.Msg{Subject: "haystack"}.Bytes(), []string{store.FlagSeen}, time.Time{}); err != nil {
		b.Fatal(err)
	}
	const unseen = 10
	for have := 1; have < n-unseen; {
		k := min(have, n-unseen-have)
		if _, err := e.st.Copy(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: 1, Hi: uint32(k)}}, inbox.ID); err != nil {
			b.Fatal(err)
		}
		have += k
	}
	for i := range unseen {
		e.deliver("INBOX", storetest.Msg{Subject: fmt.Sprintf("new %d", i)})
	}
	// 1,000 changes spread over the whole mailbox, after MODSEQ m0.
	mb := e.mailbox("INBOX")
	m0 := mb.HighestModSeq
	const changes = 1000
	var changed store.UIDSet
	for i := range changes {
		u := uint32(1 + i*(n/changes))
		changed = append(changed, store.UIDRange{Lo: u, Hi: u})
	}
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, changed, store.FlagsAdd, []string{store.FlagFlagged}, 0); err != nil {
		b.Fatal(err)
	}
	if mb = e.mailbox("INBOX"); mb.Messages != int64(n) {
		b.Fatalf("INBOX has %d messages, want %d", mb.Messages, n)
	}
	b.Logf("built %d messages in %v", n, time.Since(start).Round(time.Second))
	first := n - unseen + 1

	b.Run("SELECT", func(b *testing.B) {
		w := e.login()
		defer w.cmd("z LOGOUT")
		before := memUse()
		b.ReportAllocs()
		cpu := reportCPUms(b)
		b.ResetTimer()
		for b.Loop() {
			lines := w.cmd("a SELECT INBOX")
			if !hasLine(lines, fmt.Sprintf("* %d EXISTS", n)) || !hasPrefix(lines, fmt.Sprintf("* OK [UNSEEN %d]", first)) {
				b.Fatalf("SELECT: %q", lines)
			}
		}
		b.StopTimer()
		cpu()
		// What the selected session keeps: its heap after a collection.
		b.ReportMetric(float64(int64(memUse())-int64(before))/1e6, "session-MB")
	})
	b.Run("UIDFetchFlags", func(b *testing.B) {
		w := e.login()
		defer w.cmd("z LOGOUT")
		w.cmd("s SELECT INBOX")
		b.ReportAllocs()
		defer reportCPUms(b)()
		b.ResetTimer()
		for b.Loop() {
			if got := drain(b, w, "a UID FETCH 1:* (FLAGS)"); got != n {
				b.Fatalf("%d FETCH lines, want %d", got, n)
			}
		}
	})
	b.Run("QRESYNC1000", func(b *testing.B) {
		w := e.login()
		defer w.cmd("z LOGOUT")
		w.cmd("e ENABLE QRESYNC")
		sel := fmt.Sprintf("a SELECT INBOX (QRESYNC (%d %d))", mb.UIDValidity, m0)
		b.ReportAllocs()
		defer reportCPUms(b)()
		b.ResetTimer()
		for b.Loop() {
			if got := drain(b, w, sel); got != changes {
				b.Fatalf("%d FETCH lines, want %d", got, changes)
			}
		}
	})
}

// drain sends a command, reads its response without keeping it and
// returns the number of untagged FETCH lines.
func drain(b *testing.B, w *wire, cmd string) int {
	tag, _, _ := bytes.Cut([]byte(cmd), []byte(" "))
	w.send(cmd)
	fetches := 0
	w.nc.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		l, err := w.r.ReadSlice('\n')
		if err != nil {
			b.Fatalf("%s: read: %v", cmd, err)
		}
		if bytes.HasPrefix(l, tag) && len(l) > len(tag) && l[len(tag)] == ' ' {
			if !bytes.HasPrefix(l[len(tag):], []byte(" OK")) {
				b.Fatalf("%s: %q", cmd, l)
			}
			return fetches
		}
		if bytes.Contains(l, []byte(" FETCH (")) {
			fetches++
		}
	}
}

// reportCPUms reports the process's CPU time (server and client: both run
// here) per operation, a figure that other load on the machine inflates
// less than the wall time.
func reportCPUms(b *testing.B) func() {
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
			b.ReportMetric(float64((cpu()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		}
	}
}
