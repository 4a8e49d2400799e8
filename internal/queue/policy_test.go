package queue

import (
	"bytes"
	"context"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"

	"gannet/internal/config"
	"gannet/internal/dnsx"
	"gannet/internal/smtpclient"
	"gannet/internal/store"
)

func TestWants(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		notify, what string
		want         bool
	}{
		{"", "FAILURE", true}, {"", "DELAY", true}, {"", "SUCCESS", false},
		{"NEVER", "FAILURE", false}, {"never", "DELAY", false},
		{"SUCCESS,FAILURE", "FAILURE", true}, {"SUCCESS,FAILURE", "DELAY", false},
		{"success, delay", "DELAY", true},
	} {
		if got := wants(tc.notify, tc.what); got != tc.want {
			t.Errorf("wants(%q, %q) = %v", tc.notify, tc.what, got)
		}
	}
}

func TestNextAttempt(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	q := New(Options{Hostname: "h.test", Config: config.Queue{
		RetrySchedule: []config.Duration{{Duration: time.Minute}, {Duration: time.Hour}},
		MaxAge:        config.Duration{Duration: 3 * time.Hour},
		DelayWarning:  config.Duration{Duration: 90 * time.Minute},
	}})
	defer q.Close()
	for _, tc := range []struct {
		now      time.Duration
		attempts int
		notified bool
		want     time.Duration
	}{
		{0, 1, false, time.Minute},
		{time.Minute, 2, false, time.Minute + time.Hour},
		{time.Hour, 3, false, 90 * time.Minute},          // pulled forward to the warning time
		{time.Hour, 3, true, 2 * time.Hour},              // last entry repeats
		{150 * time.Minute, 9, true, 3 * time.Hour},      // capped at the expiry
		{100 * time.Minute, 5, false, 160 * time.Minute}, // warning time passed: no pull
	} {
		got := q.nextAttempt(created, created.Add(tc.now), tc.attempts, tc.notified)
		if got.Sub(created) != tc.want {
			t.Errorf("nextAttempt(now+%v, %d, %v) = +%v, want +%v", tc.now, tc.attempts, tc.notified, got.Sub(created), tc.want)
		}
	}
}

func TestMXHostsOrderAndSelf(t *testing.T) {
	t.Parallel()
	f := &dnsx.Fake{}
	for _, mx := range []struct {
		host string
		pref uint16
	}{{"c.test", 30}, {"a1.test", 10}, {"b.test", 20}, {"a2.test", 10}, {"self.test", 20}} {
		f.AddMX("d.test", mx.host, mx.pref)
	}
	q := New(Options{Hostname: "SELF.test.", Resolver: f})
	defer q.Close()
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		hosts, fail := q.mxHosts(context.Background(), "d.test")
		if fail.Code != 0 {
			t.Fatal(fail)
		}
		// Only hosts more preferred than ourselves (pref 20) remain.
		if len(hosts) != 2 || !strings.HasPrefix(hosts[0], "a") || !strings.HasPrefix(hosts[1], "a") {
			t.Fatalf("hosts %v", hosts)
		}
		seen[hosts[0]] = true
	}
	// Equal preferences are shuffled (RFC 5321 5.1); 50 draws all alike
	// would be a 2^-49 coincidence.
	if len(seen) != 2 {
		t.Errorf("equal-preference hosts never shuffled: %v", seen)
	}
}

func TestDSNForInternationalAddresses(t *testing.T) {
	t.Parallel()
	q := New(Options{Hostname: "h.test"})
	defer q.Close()
	m := &store.QueuedMessage{ID: 1, From: "jürgen@example.com", Created: time.Unix(0, 0)}
	raw := []byte("Subject: =?utf-8?q?gr=C3=BC=C3=9Fe?=\r\n\r\nbody\r\n")
	out, err := q.buildDSN(m, raw, actionFailed, []reportRcpt{{
		rcpt:  store.QueuedRecipient{Address: "zoë@example.net"},
		reply: smtpclient.Reply{Code: 550, Enhanced: "5.1.1", Text: "unknown"},
		mta:   "mx.example.net",
	}}, time.Unix(100, 0))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if _, p, _ := mime.ParseMediaType(msg.Header.Get("Content-Type")); p["boundary"] == "" {
		t.Error("no boundary")
	}
	for _, want := range []string{
		"Content-Type: message/global-delivery-status", // RFC 6533
		"Final-Recipient: utf-8; zoë@example.net",
		"Content-Type: message/global",
		"Subject: grüße", // decoded for the reader
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("DSN lacks %q:\n%s", want, out)
		}
	}
}
