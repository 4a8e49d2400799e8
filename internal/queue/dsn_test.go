package queue_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"gannet/internal/smtpclient/smtptest"
	"gannet/internal/store"
)

// refusing is a server that refuses some recipients for good.
func refusing(t *testing.T, refused ...string) *smtptest.Server {
	return smtptest.Start(t, smtptest.Options{Rcpt: func(to string) error {
		for _, r := range refused {
			if to == r {
				return smtptest.Refuse(550, "5.1.1", "no such user here")
			}
		}
		return nil
	}})
}

func TestPermanentFailureSendsDSN(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := refusing(t, "nobody@example.net")
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	raw := message("alice@example.com", "nobody@example.net", "doomed")
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"nobody@example.net", "bob@example.net"},
		Raw: raw, AccountID: e.alice.ID, EnvID: "ENV42", ORcpt: map[string]string{"nobody@example.net": "rfc822;Nobody@Example.net"}})
	e.flush(q)

	if m := sink.Messages(); len(m) != 1 || len(m[0].To) != 1 || m[0].To[0] != "bob@example.net" {
		t.Fatalf("the accepted recipient must still get the message: %+v", m)
	}
	if got := e.queued(); len(got) != 0 {
		t.Fatalf("a permanent failure must leave the queue: %+v", got)
	}
	d := e.onlyDSN(e.alice)
	if s := d.header.Get("Subject"); !strings.Contains(s, "Undelivered") {
		t.Errorf("Subject %q", s)
	}
	if to := d.header.Get("To"); to != "<alice@example.com>" {
		t.Errorf("To %q", to)
	}
	if d.header.Get("Auto-Submitted") != "auto-replied" || d.header.Get("In-Reply-To") != "<doomed@example.com>" {
		t.Errorf("Auto-Submitted %q In-Reply-To %q", d.header.Get("Auto-Submitted"), d.header.Get("In-Reply-To"))
	}
	if d.perMsg.Get("Original-Envelope-Id") != "ENV42" || d.perMsg.Get("Arrival-Date") == "" {
		t.Errorf("per-message fields %v", d.perMsg)
	}
	if len(d.rcpts) != 1 {
		t.Fatalf("DSN lists %d recipients, want only the failed one", len(d.rcpts))
	}
	r := d.rcpts[0]
	for field, want := range map[string]string{
		"Final-Recipient":    "rfc822; nobody@example.net",
		"Original-Recipient": "rfc822;Nobody@Example.net",
		"Action":             "failed",
		"Status":             "5.1.1",
		"Diagnostic-Code":    "smtp; 550 5.1.1 no such user here",
		"Remote-Mta":         "dns; 127.0.0.1",
	} {
		if got := r.Get(field); got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if !strings.Contains(d.human, "nobody@example.net") || !strings.Contains(d.human, "no such user here") {
		t.Errorf("human-readable part does not explain: %q", d.human)
	}
	if d.retType != "message/rfc822" || !bytes.Equal(d.returned, raw) {
		t.Errorf("returned part %q: %q, want the whole original", d.retType, d.returned)
	}
}

func TestRetHdrsReturnsHeaderOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := refusing(t, "nobody@example.net")
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"nobody@example.net"}, Ret: "HDRS", AccountID: e.alice.ID})
	e.flush(q)
	d := e.onlyDSN(e.alice)
	if d.retType != "text/rfc822-headers" || bytes.Contains(d.returned, []byte("Hello,")) || !bytes.Contains(d.returned, []byte("Subject: test")) {
		t.Errorf("RET=HDRS: part %q %q", d.retType, d.returned)
	}
}

func TestNoBounceForBounce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := refusing(t, "nobody@example.net")
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	// A null sender (a DSN we relay) with the account set: still no DSN.
	e.enqueue(q, store.Outbound{From: "", Recipients: []string{"nobody@example.net"}, AccountID: e.alice.ID})
	e.flush(q)
	if in := e.inbox(e.alice); len(in) != 0 {
		t.Errorf("a bounce bounced: %d messages in INBOX", len(in))
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue: %+v", got)
	}
}

func TestDSNRecipientChoice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := refusing(t, "nobody@example.net")
	elsewhere := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	cfg.Transports["elsewhere.test"] = elsewhere.Addr
	q := e.newQueue(cfg)
	// No account, but the sender is a local account: the DSN goes there.
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"nobody@example.net"}})
	e.flush(q)
	e.onlyDSN(e.alice)

	// No account and a sender elsewhere (mail relayed by an alias): the DSN
	// is mailed from the null sender (RFC 5321 6.1).
	e.enqueue(q, store.Outbound{From: "someone@elsewhere.test", Recipients: []string{"nobody@example.net"}})
	e.flush(q) // the refusal, and the DSN queued
	e.flush(q) // the DSN sent
	got := elsewhere.Wait(t, 1)
	if len(got) != 1 || got[0].From != "" || len(got[0].To) != 1 || got[0].To[0] != "someone@elsewhere.test" {
		t.Fatalf("DSN mail: %+v", got)
	}
	d := parseDSN(t, got[0].Data)
	if len(d.rcpts) != 1 || d.rcpts[0].Get("Action") != "failed" || d.rcpts[0].Get("Final-Recipient") != "rfc822; nobody@example.net" {
		t.Errorf("DSN to the sender elsewhere: %v", d.rcpts)
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue: %+v", got)
	}
	e.onlyDSN(e.alice) // still just the first
}

// TestDSNToAliasSender: a sender address that is an alias of ours (not an
// account) gets its DSN through the alias, not through the queue to our own MX.
func TestDSNToAliasSender(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.AddAlias(ctx, "team@example.com", []string{"alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	sink := refusing(t, "nobody@example.net")
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "team@example.com", Recipients: []string{"nobody@example.net"}})
	e.flush(q)
	d := e.onlyDSN(e.alice)
	if len(d.rcpts) != 1 || d.rcpts[0].Get("Action") != "failed" {
		t.Errorf("DSN: %v", d.rcpts)
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue: %+v", got)
	}
}

func TestNotifyParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plain := refusing(t, "nobody@example.net")
	withDSN := smtptest.Start(t, smtptest.Options{DSN: true})
	cfg := testConfig()
	cfg.Transports["example.net"] = plain.Addr
	cfg.Transports["example.org"] = withDSN.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", AccountID: e.alice.ID,
		Recipients: []string{"nobody@example.net", "bob@example.net", "carol@example.org"},
		Notify: map[string]string{
			"nobody@example.net": "NEVER",   // no failure report
			"bob@example.net":    "SUCCESS", // next hop cannot report: we say "relayed"
			"carol@example.org":  "SUCCESS", // next hop has DSN: it reports, not us
		},
		ORcpt: map[string]string{"carol@example.org": "rfc822;carol@example.org"}})
	e.flush(q)
	d := e.onlyDSN(e.alice)
	if len(d.rcpts) != 1 || d.rcpts[0].Get("Action") != "relayed" || d.rcpts[0].Get("Final-Recipient") != "rfc822; bob@example.net" ||
		d.rcpts[0].Get("Status") != "2.0.0" {
		t.Errorf("want one relayed report for bob, got %v", d.rcpts)
	}
	if d.retType != "text/rfc822-headers" {
		t.Errorf("a success report returns the header only, got %q", d.retType)
	}
	m := withDSN.Wait(t, 1)[0]
	if o := m.RcptOpts[0]; len(o.Notify) != 1 || o.Notify[0] != "SUCCESS" || o.OriginalRecipient != "carol@example.org" {
		t.Errorf("DSN parameters not passed on: %+v", o)
	}
}

func TestUndeliverableDSNDoesNotBlockQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := refusing(t, "nobody@example.net")
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	if err := e.st.SetQuota(context.Background(), "alice@example.com", 0, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Deliver(context.Background(), store.Delivery{Raw: []byte("Subject: fill\r\n\r\nx\r\n"),
		Recipients: []store.Recipient{{AccountID: e.alice.ID}}}); err != nil {
		t.Fatal(err)
	}
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"nobody@example.net"}, AccountID: e.alice.ID})
	e.flush(q)
	// Over quota: the DSN is lost (and logged) but the failure is final.
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue: %+v", got)
	}
	if in := e.inbox(e.alice); len(in) != 1 {
		t.Errorf("INBOX has %d messages, want just the filler", len(in))
	}
}

// TestDSNMergedAcrossRoutes: a message whose recipients at two domains both
// fail in the same run gets one DSN listing both, not one per domain.
func TestDSNMergedAcrossRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	net1 := refusing(t, "nobody@example.net")
	org := refusing(t, "nobody@example.org")
	var failing atomic.Bool
	var attempts atomic.Int32
	failing.Store(true)
	slow := flaky(t, &failing, &attempts)
	cfg := testConfig()
	cfg.Transports["example.net"] = net1.Addr
	cfg.Transports["example.org"] = org.Addr
	cfg.Transports["example.info"] = slow.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", AccountID: e.alice.ID,
		Recipients: []string{"nobody@example.net", "nobody@example.org", "later@example.info"}})
	e.flush(q)
	d := e.onlyDSN(e.alice)
	var got []string
	for _, r := range d.rcpts {
		if r.Get("Action") != "failed" {
			t.Errorf("recipient block: %v", r)
		}
		got = append(got, r.Get("Final-Recipient"))
	}
	slices.Sort(got)
	if want := []string{"rfc822; nobody@example.net", "rfc822; nobody@example.org"}; !slices.Equal(got, want) {
		t.Errorf("DSN recipients %q, want %q", got, want)
	}
	// The deferred recipient stays queued, alone.
	q1 := e.queued()
	if len(q1) != 1 || len(q1[0].Recipients) != 1 || q1[0].Recipients[0].Address != "later@example.info" {
		t.Fatalf("queue after the run: %+v", q1)
	}
	// It is delivered on the retry.
	failing.Store(false)
	e.clock.Advance(q1[0].Recipients[0].NextAttempt.Sub(e.clock.Now()))
	e.flush(q)
	if len(e.queued()) != 0 || len(slow.Messages()) != 1 {
		t.Errorf("deferred recipient not delivered on retry")
	}
}
