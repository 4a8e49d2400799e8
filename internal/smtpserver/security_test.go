package smtpserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/delivery"
)

// TestAnnouncedSizeNotAllocated (finding 2): MAIL SIZE=52428800, one valid
// RCPT, DATA or BDAT 52428800, 1 KB, then a stall. The server must not size
// a buffer from the announcement: with go-smtp's server it grew one of ~50 MB
// per connection at once. The heap may grow by what the connections hold
// (their readers, writers and the 1 KB), not by what they announced.
func TestAnnouncedSizeNotAllocated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	const conns = 6
	const announced = DefaultMaxMessageBytes // 52428800
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	kb := "Subject: stall\r\n\r\n" + strings.Repeat("x", 1000) + "\r\n"
	for i := range conns {
		w := e.dial()
		w.ehlo()
		w.cmd(fmt.Sprintf("MAIL FROM:<s@remote.example> SIZE=%d", announced), 250, "")
		w.cmd("RCPT TO:<alice@example.org>", 250, "")
		if i%2 == 0 {
			w.cmd("DATA", 354, "")
			w.write(kb)
		} else {
			w.write(fmt.Sprintf("BDAT %d LAST\r\n%s", announced, kb))
		}
	}
	// The old server grew its buffer right after 354 (and at the first
	// chunk); give it every chance to, then compare.
	limit := uint64(conns) * (4 << 20)
	for start := time.Now(); time.Since(start) < time.Second; time.Sleep(50 * time.Millisecond) {
		if after := heap(); after > before+limit {
			t.Fatalf("heap grew by %d MB with %d stalled connections (limit %d MB)",
				(after-before)>>20, conns, limit>>20)
		}
	}
}

// TestRecipientHarvesting (finding 9): refused recipients are answered at
// once up to the soft limit, then after a growing delay, and at the hard
// limit the client is disconnected with 421 4.7.0. The old server answered
// 3,000 unknown recipients in 0.6 s.
func TestRecipientHarvesting(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	var mu sync.Mutex
	var delays []time.Duration
	e.srv.sleep = func(ctx context.Context, d time.Duration) {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
	}
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "") // good ones do not count
	for i := 1; i <= harvestHard; i++ {
		w.cmd(fmt.Sprintf("RCPT TO:<guess%d@example.org>", i), 550, "5.1.1")
	}
	w.expect(421, "4.7.0")
	w.closed()
	mu.Lock()
	defer mu.Unlock()
	if len(delays) != harvestHard-harvestSoft {
		t.Fatalf("delays %v: want one for each refusal after the first %d", delays, harvestSoft)
	}
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Errorf("delays %v do not grow", delays)
		}
	}
	// Another connection starts afresh: the limits are per session.
	w2 := e.dial()
	w2.ehlo()
	w2.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w2.cmd("RCPT TO:<guess@example.org>", 550, "5.1.1")
}

// reportRecorder keeps the delivery status notifications asked for.
type reportRecorder struct {
	mu   sync.Mutex
	reps []delivery.Report
}

func (r *reportRecorder) Report(ctx context.Context, rep delivery.Report) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reps = append(r.reps, rep)
	return nil
}

func (r *reportRecorder) all() []delivery.Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery.Report(nil), r.reps...)
}

// describe lists reports as sender, RET and actions.
func describe(reps []delivery.Report) string {
	var out []string
	for _, r := range reps {
		var acts []string
		for _, s := range r.Recipients {
			acts = append(acts, s.Action+" "+s.Address)
		}
		out = append(out, fmt.Sprintf("{to %s RET %q: %s}", r.From, r.Ret, strings.Join(acts, ", ")))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// TestNoBackscatter (finding 9): an unauthenticated client of the MX that
// gives a forged remote return path with NOTIFY=SUCCESS and RET=FULL must
// not make the server mail anything with the message to that address. The
// old server sent a "delivered" report carrying the whole message; now
// SUCCESS is dropped and RET becomes HDRS, also on the copy forwarded to a
// remote alias member. Failure notices (NOTIFY=FAILURE) stay.
func TestNoBackscatter(t *testing.T) {
	t.Parallel()
	rr := &reportRecorder{}
	q := &recorder{}
	e := newEnv(t, MX, func(o *Options) {
		o.Deliverer = delivery.New(delivery.Options{Store: o.Store, Queue: q, Reporter: rr, Hostname: o.Hostname})
	})
	if err := e.st.AddAlias(context.Background(), "fwd@example.org", []string{"friend@remote.example"}); err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<victim@remote.example> RET=FULL", 250, "")
	w.cmd("RCPT TO:<alice@example.org> NOTIFY=SUCCESS", 250, "")
	w.cmd("RCPT TO:<fwd@example.org> NOTIFY=SUCCESS,FAILURE", 250, "")
	w.cmd("DATA", 354, "")
	w.write(testMsg("victim@remote.example", "backscatter") + ".\r\n")
	w.expect(250, "2.0.0")
	if n := len(e.inbox(e.alice)); n != 1 {
		t.Fatalf("alice has %d messages", n)
	}
	for _, r := range rr.all() {
		for _, s := range r.Recipients {
			if s.Action == "delivered" {
				t.Errorf("success notice to %s about %s (RET %q)", r.From, s.Address, r.Ret)
			}
		}
	}
	qs := q.all()
	if len(qs) != 1 {
		t.Fatalf("%d messages queued", len(qs))
	}
	if m := qs[0]; m.Notify["friend@remote.example"] != "FAILURE" || m.Ret != "HDRS" {
		t.Errorf("forwarded copy: NOTIFY %q RET %q, want FAILURE and HDRS", m.Notify["friend@remote.example"], m.Ret)
	}

	// A return path in our own domains keeps what it asked for.
	w.cmd("MAIL FROM:<bob@example.org> RET=FULL", 250, "")
	w.cmd("RCPT TO:<alice@example.org> NOTIFY=SUCCESS", 250, "")
	w.cmd("DATA", 354, "")
	w.write(testMsg("bob@example.org", "local sender") + ".\r\n")
	w.expect(250, "2.0.0")
	reps := rr.all()
	if len(reps) != 1 || reps[0].From != "bob@example.org" || reps[0].Ret != "FULL" || reps[0].Recipients[0].Action != "delivered" {
		t.Errorf("reports %s, want one success notice to bob with RET=FULL", describe(reps))
	}
}

// TestSubmissionKeepsDSN: authenticated submission keeps NOTIFY=SUCCESS and
// RET=FULL.
func TestSubmissionKeepsDSN(t *testing.T) {
	t.Parallel()
	rr := &reportRecorder{}
	e := newEnv(t, Submission, func(o *Options) {
		o.Deliverer = delivery.New(delivery.Options{Store: o.Store, Queue: &recorder{}, Reporter: rr, Hostname: o.Hostname})
	})
	w := e.login()
	w.cmd("MAIL FROM:<alice@example.org> RET=FULL", 250, "")
	w.cmd("RCPT TO:<bob@example.org> NOTIFY=SUCCESS", 250, "")
	w.cmd("DATA", 354, "")
	w.write("From: alice@example.org\r\nSubject: dsn\r\n\r\nx\r\n.\r\n")
	w.expect(250, "2.0.0")
	reps := rr.all()
	if len(reps) != 1 || reps[0].Ret != "FULL" || reps[0].Recipients[0].Action != "delivered" {
		t.Errorf("reports %s, want one success notice with RET=FULL", describe(reps))
	}
}

// listenTLS serves e's server on a new implicit-TLS listener (port 465).
func listenTLS(t *testing.T, e *testEnv) string {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.serve(tls.NewListener(raw, e.serverTLS))
	return raw.Addr().String()
}
