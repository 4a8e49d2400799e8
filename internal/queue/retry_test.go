package queue_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/config"
	"gannet/internal/smtpclient/smtptest"
	"gannet/internal/store"
)

// flaky refuses every recipient with 451 while failing is true.
func flaky(t *testing.T, failing *atomic.Bool, attempts *atomic.Int32) *smtptest.Server {
	return smtptest.Start(t, smtptest.Options{Rcpt: func(to string) error {
		attempts.Add(1)
		if failing.Load() {
			return smtptest.Refuse(451, "4.7.1", "greylisted, try again later")
		}
		return nil
	}})
}

func TestTemporaryFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var failing atomic.Bool
	var attempts atomic.Int32
	failing.Store(true)
	sink := flaky(t, &failing, &attempts)
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}, AccountID: e.alice.ID})
	start := e.clock.Now()
	e.flush(q)

	got := e.queued()
	if len(got) != 1 {
		t.Fatalf("deferred message left the queue: %+v", got)
	}
	r := got[0].Recipients[0]
	if r.Attempts != 1 || !r.NextAttempt.Equal(start.Add(time.Minute)) || !strings.Contains(r.LastError, "451 4.7.1 greylisted") {
		t.Errorf("after one 451: %+v (want attempts 1, next in 1m, the reply kept)", r)
	}
	// Not due yet: nothing happens.
	e.flush(q)
	if n := attempts.Load(); n != 1 {
		t.Fatalf("%d attempts before the retry time, want 1", n)
	}
	failing.Store(false)
	e.clock.Advance(time.Minute)
	e.flush(q)
	if n := len(sink.Messages()); n != 1 {
		t.Fatalf("sink got %d messages after the retry, want 1", n)
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue: %+v", got)
	}
	if in := e.inbox(e.alice); len(in) != 0 {
		t.Errorf("%d DSNs for a message delivered on the second try", len(in))
	}
}

// TestBackoffSchedule follows the default schedule: 1m, 5m, 30m, 2h, then 4h.
func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var failing atomic.Bool
	var attempts atomic.Int32
	failing.Store(true)
	sink := flaky(t, &failing, &attempts)
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	cfg.DelayWarning = config.Duration{} // keep the schedule pure
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	created := e.clock.Now()
	e.flush(q)
	var waits []time.Duration
	prev := created
	for i := 0; i < 6; i++ {
		next := e.queued()[0].Recipients[0].NextAttempt
		waits = append(waits, next.Sub(prev))
		e.clock.Advance(next.Sub(e.clock.Now()))
		prev = next
		e.flush(q)
	}
	want := []time.Duration{time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour}
	for i := range want {
		if waits[i] != want[i] {
			t.Errorf("wait %d = %v, want %v (all: %v)", i+1, waits[i], want[i], waits)
		}
	}
	if n := attempts.Load(); n != 7 {
		t.Errorf("%d attempts, want 7", n)
	}
}

func TestExpiryBounces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var failing atomic.Bool
	var attempts atomic.Int32
	failing.Store(true)
	sink := flaky(t, &failing, &attempts)
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	cfg.RetrySchedule = []config.Duration{{Duration: 25 * time.Minute}}
	cfg.MaxAge = config.Duration{Duration: time.Hour}
	cfg.DelayWarning = config.Duration{}
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}, AccountID: e.alice.ID})
	created := e.clock.Now()
	e.flush(q)
	for i := 0; i < 10 && len(e.queued()) > 0; i++ {
		next := e.queued()[0].Recipients[0].NextAttempt
		e.clock.Advance(next.Sub(e.clock.Now()))
		e.flush(q)
	}
	if got := e.queued(); len(got) != 0 {
		t.Fatalf("message still queued after MaxAge: %+v", got)
	}
	// Attempts at 0, 25m, 50m and the last one exactly at the 1h expiry.
	if n := attempts.Load(); n != 4 {
		t.Errorf("%d attempts, want 4", n)
	}
	if d := e.clock.Now().Sub(created); d != time.Hour {
		t.Errorf("gave up after %v, want exactly MaxAge", d)
	}
	d := e.onlyDSN(e.alice)
	r := d.rcpts[0]
	if r.Get("Action") != "failed" || r.Get("Status") != "4.4.7" || !strings.Contains(r.Get("Diagnostic-Code"), "451 4.7.1") {
		t.Errorf("expiry DSN fields: %v", r)
	}
	if !strings.Contains(d.human, "expired") {
		t.Errorf("human part does not say it expired: %q", d.human)
	}
}

func TestDelayWarning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var failing atomic.Bool
	var attempts atomic.Int32
	failing.Store(true)
	sink := flaky(t, &failing, &attempts)
	cfg := testConfig() // retries 1m, 5m, 30m, 2h, 4h...; warning at 4h; max age 5 days
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}, AccountID: e.alice.ID})
	created := e.clock.Now()
	e.flush(q)
	var warnedAt time.Duration
	for i := 0; i < 8; i++ {
		next := e.queued()[0].Recipients[0].NextAttempt
		e.clock.Advance(next.Sub(e.clock.Now()))
		e.flush(q)
		if warnedAt == 0 && len(e.inbox(e.alice)) > 0 {
			warnedAt = e.clock.Now().Sub(created)
		}
	}
	// The 2h36m attempt is followed by one at exactly 4h, not at 6h36m, so
	// the warning is on time; later attempts send no second warning.
	if warnedAt != 4*time.Hour {
		t.Errorf("delay DSN after %v, want 4h", warnedAt)
	}
	d := e.onlyDSN(e.alice)
	r := d.rcpts[0]
	if r.Get("Action") != "delayed" || !strings.HasPrefix(r.Get("Status"), "4.") || r.Get("Will-Retry-Until") == "" {
		t.Errorf("delay DSN fields: %v", r)
	}
	if d.retType != "text/rfc822-headers" {
		t.Errorf("delay DSN returns %q, want the header only", d.retType)
	}
	got := e.queued()
	if len(got) != 1 || !got[0].Recipients[0].DelayNotified {
		t.Errorf("after the warning the message stays queued, marked: %+v", got)
	}
	failing.Store(false)
	e.clock.Advance(got[0].Recipients[0].NextAttempt.Sub(e.clock.Now()))
	e.flush(q)
	if len(e.queued()) != 0 || len(sink.Messages()) != 1 {
		t.Errorf("not delivered once the remote recovered")
	}
}

// TestDelayWarningSenderElsewhere: a sender that is not ours gets a delay DSN
// only when it asked for one with NOTIFY=DELAY.
func TestDelayWarningSenderElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var failing atomic.Bool
	var attempts atomic.Int32
	failing.Store(true)
	sink := flaky(t, &failing, &attempts)
	elsewhere := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	cfg.Transports["elsewhere.test"] = elsewhere.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "asked@elsewhere.test", Recipients: []string{"bob@example.net"},
		Notify: map[string]string{"bob@example.net": "FAILURE,DELAY"}})
	e.enqueue(q, store.Outbound{From: "unasked@elsewhere.test", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	for e.clock.Now().Before(time.Date(2026, 5, 1, 16, 0, 1, 0, time.UTC)) {
		next := e.queued()[0].Recipients[0].NextAttempt
		for _, m := range e.queued() {
			if n := m.Recipients[0].NextAttempt; n.Before(next) {
				next = n
			}
		}
		if next.After(e.clock.Now()) {
			e.clock.Advance(next.Sub(e.clock.Now()))
		}
		e.flush(q)
	}
	got := elsewhere.Messages()
	if len(got) != 1 || got[0].From != "" || got[0].To[0] != "asked@elsewhere.test" {
		t.Fatalf("delay DSNs sent elsewhere: %+v", got)
	}
	if d := parseDSN(t, got[0].Data); d.rcpts[0].Get("Action") != "delayed" {
		t.Errorf("DSN: %v", d.rcpts)
	}
}
