package delivery

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/smtp"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// recorder stands in for the queue only; the store is real.
type recorder struct {
	mu   sync.Mutex
	msgs []store.Outbound
	err  error
}

func (r *recorder) Enqueue(ctx context.Context, m store.Outbound) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

type reports struct {
	mu   sync.Mutex
	list []Report
}

func (r *reports) Report(ctx context.Context, rep Report) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rep)
	return nil
}

type fixture struct {
	st                store.Store
	d                 *Deliverer
	q                 *recorder
	rep               *reports
	alice, bob, carol *store.Account
	now               time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testopen.Open(t, testopen.FastPasswords)
	f := &fixture{st: st, q: &recorder{}, rep: &reports{}, now: time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)}
	f.alice = storetest.NewAccount(t, st, "alice@example.org", "pw")
	f.bob = storetest.NewAccount(t, st, "bob@example.org", "pw")
	f.carol = storetest.NewAccount(t, st, "carol@example.org", "pw")
	f.d = New(Options{Store: st, Queue: f.q, Reporter: f.rep, Hostname: "mx.example.org", Now: func() time.Time { return f.now }})
	return f
}

func addr(t *testing.T, s string) smtp.Address {
	t.Helper()
	a, err := smtp.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) rcpt(t *testing.T, s string, p RcptPolicy) *Recipient {
	t.Helper()
	r, err := f.d.CheckRecipient(context.Background(), addr(t, s), p)
	if err != nil {
		t.Fatalf("CheckRecipient(%s): %v", s, err)
	}
	return r
}

func inbox(t *testing.T, st store.Store, id int64) []store.Message {
	t.Helper()
	mb, err := st.Mailbox(context.Background(), id, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.List(context.Background(), id, mb.ID, nil, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func TestCheckRecipient(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if err := f.st.AddAlias(ctx, "team@example.org", []string{"alice@example.org", "bob@example.org", "x@remote.example"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetQuota(ctx, "carol@example.org", 1000, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr  string
		p     RcptPolicy
		want  *smtp.Reply // nil: accepted
		local []int64
		rem   []string
	}{
		{addr: "alice@example.org", local: []int64{f.alice.ID}},
		{addr: "ALICE+tag@EXAMPLE.org", local: []int64{f.alice.ID}},
		{addr: "team@example.org", local: []int64{f.alice.ID, f.bob.ID}, rem: []string{"x@remote.example"}},
		{addr: "nobody@example.org", want: smtp.NoSuchUser()},
		{addr: "nobody@example.org", p: RcptPolicy{Relay: true}, want: smtp.NoSuchUser()},
		{addr: "someone@remote.example", want: smtp.RelayDenied()},
		{addr: "someone@[192.0.2.1]", want: smtp.RelayDenied()},
		{addr: "someone@remote.example", p: RcptPolicy{Relay: true}, rem: []string{"someone@remote.example"}},
		{addr: "carol@example.org", p: RcptPolicy{Size: 999}, local: []int64{f.carol.ID}},
		{addr: "carol@example.org", p: RcptPolicy{Size: 1001}, want: smtp.MailboxFull()},
	}
	for _, tt := range tests {
		r, err := f.d.CheckRecipient(ctx, addr(t, tt.addr), tt.p)
		if tt.want != nil {
			if !errors.Is(err, tt.want) {
				t.Errorf("CheckRecipient(%s, %+v) = %v, want %v", tt.addr, tt.p, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("CheckRecipient(%s, %+v): %v", tt.addr, tt.p, err)
			continue
		}
		var ids []int64
		for _, a := range r.Local() {
			ids = append(ids, a.ID)
		}
		if !slices.Equal(ids, tt.local) || !slices.Equal(r.Remote(), tt.rem) {
			t.Errorf("CheckRecipient(%s) = local %v remote %q, want %v %q", tt.addr, ids, r.Remote(), tt.local, tt.rem)
		}
	}
	// Without a queue, nothing goes remote.
	d := New(Options{Store: f.st})
	if _, err := d.CheckRecipient(ctx, addr(t, "someone@remote.example"), RcptPolicy{Relay: true}); !errors.Is(err, smtp.LocalError()) {
		t.Errorf("remote without queue: %v", err)
	}
	if _, err := d.CheckRecipient(ctx, addr(t, "team@example.org"), RcptPolicy{}); !errors.Is(err, smtp.LocalError()) {
		t.Errorf("forwarding alias without queue: %v", err)
	}
}

func TestDeliverOneTransaction(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if err := f.st.AddAlias(ctx, "team@example.org", []string{"alice@example.org", "bob@example.org", "x@remote.example"}); err != nil {
		t.Fatal(err)
	}
	env := &Envelope{
		From: addr(t, "s@remote.example"),
		Recipients: []*Recipient{
			f.rcpt(t, "team@example.org", RcptPolicy{}),
			f.rcpt(t, "alice@example.org", RcptPolicy{}),
			f.rcpt(t, "carol@example.org", RcptPolicy{}),
		},
		Trace: Trace{Helo: "client.example.net", RemoteIP: netip.MustParseAddr("192.0.2.7"), ESMTP: true},
	}
	msg := []byte("Subject: x\r\n\r\nbody\r\n")
	out, err := f.d.Deliver(ctx, env, msg)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Accepted() || out.Reply() != nil || len(out.Results) != 3 {
		t.Fatalf("outcome %+v", out)
	}
	var blobs []string
	for _, a := range []*store.Account{f.alice, f.bob, f.carol} {
		msgs := inbox(t, f.st, a.ID)
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages, want 1 (alias and direct recipient are one copy)", a.Address, len(msgs))
		}
		blobs = append(blobs, msgs[0].BlobID)
	}
	if blobs[0] != blobs[1] || blobs[1] != blobs[2] {
		t.Errorf("blobs differ: %q", blobs)
	}
	if len(f.q.msgs) != 1 || !slices.Equal(f.q.msgs[0].Recipients, []string{"x@remote.example"}) {
		t.Fatalf("queued %+v", f.q.msgs)
	}
	want := "Received: from client.example.net (client.example.net [192.0.2.7])\r\n\tby mx.example.org with ESMTP id " + out.ID +
		";\r\n\tMon, 06 May 2024 07:08:09 +0000\r\nSubject: x\r\n\r\nbody\r\n"
	if got := string(f.q.msgs[0].Raw); got != want {
		t.Errorf("queued raw\n%q\nwant\n%q", got, want)
	}
}

func TestDeliverPartialFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	env := &Envelope{
		From: addr(t, "s@remote.example"),
		Recipients: []*Recipient{
			f.rcpt(t, "alice@example.org", RcptPolicy{}),
			f.rcpt(t, "bob@example.org", RcptPolicy{}),
		},
	}
	if err := f.st.SetQuota(ctx, "bob@example.org", 10, 0); err != nil {
		t.Fatal(err)
	}
	out, err := f.d.Deliver(ctx, env, []byte("Subject: big enough\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !out.Accepted() || out.Results[0].Err != nil || !errors.Is(out.Results[1].Err, smtp.MailboxFull()) {
		t.Fatalf("results %+v", out.Results)
	}
	// Accepted for alice, so bob's failure goes to the sender as a DSN.
	if len(f.rep.list) != 1 {
		t.Fatalf("%d reports, want 1", len(f.rep.list))
	}
	r := f.rep.list[0]
	if r.From != "s@remote.example" || len(r.Recipients) != 1 || r.Recipients[0].Address != "bob@example.org" ||
		r.Recipients[0].Action != "failed" || r.Recipients[0].Reply.Code != 452 {
		t.Errorf("report %+v", r)
	}
	// Nobody accepts: no report, the reply says it.
	env.Recipients = env.Recipients[1:]
	out, err = f.d.Deliver(ctx, env, []byte("Subject: again\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Accepted() || !errors.Is(out.Reply(), smtp.MailboxFull()) || len(f.rep.list) != 1 {
		t.Errorf("all failed: accepted %v reply %v reports %d", out.Accepted(), out.Reply(), len(f.rep.list))
	}
}

func TestDeliverNotifySuccess(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.rcpt(t, "alice@example.org", RcptPolicy{})
	r.Notify = "SUCCESS"
	r.ORcpt = "rfc822;alice@example.org"
	env := &Envelope{From: addr(t, "s@remote.example"), Recipients: []*Recipient{r, f.rcpt(t, "bob@example.org", RcptPolicy{})}, EnvID: "e1"}
	if _, err := f.d.Deliver(context.Background(), env, []byte("Subject: x\r\n\r\ny\r\n")); err != nil {
		t.Fatal(err)
	}
	if len(f.rep.list) != 1 || len(f.rep.list[0].Recipients) != 1 || f.rep.list[0].Recipients[0].Action != "delivered" ||
		f.rep.list[0].EnvID != "e1" || f.rep.list[0].Recipients[0].ORcpt != "rfc822;alice@example.org" {
		t.Fatalf("reports %+v", f.rep.list)
	}
	// Never a DSN to the null sender (RFC 3461 6.2).
	env.From = smtp.Address{}
	if _, err := f.d.Deliver(context.Background(), env, []byte("Subject: x\r\n\r\ny\r\n")); err != nil {
		t.Fatal(err)
	}
	if len(f.rep.list) != 1 {
		t.Errorf("a DSN was reported for a null sender")
	}
}

func TestDeliverQueueFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.q.err = errors.New("queue down")
	acc := f.alice
	env := &Envelope{From: addr(t, "alice@example.org"), Account: acc, Recipients: []*Recipient{
		f.rcpt(t, "x@remote.example", RcptPolicy{Relay: true}),
	}}
	out, err := f.d.Deliver(context.Background(), env, []byte("Subject: x\r\n\r\ny\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rep := out.Reply(); !errors.Is(rep, smtp.LocalError()) || strings.Contains(rep.Text, "down") {
		t.Errorf("reply %v", rep)
	}
}

func TestLoop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	env := &Envelope{Recipients: []*Recipient{f.rcpt(t, "alice@example.org", RcptPolicy{})}}
	msg := strings.Repeat("Received: x\r\n", 100) + "Subject: loop\r\n\r\nReceived: in the body does not count\r\n"
	if _, err := f.d.Deliver(context.Background(), env, []byte(msg)); !errors.Is(err, smtp.LoopDetected()) {
		t.Errorf("100 hops: %v", err)
	}
	if n := countReceived([]byte("Subject: x\r\n\r\n" + strings.Repeat("Received: x\r\n", 200))); n != 0 {
		t.Errorf("Received fields in the body counted: %d", n)
	}
}

func TestReceivedField(t *testing.T) {
	t.Parallel()
	d := New(Options{Hostname: "mx.example.org"})
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	one := []*Recipient{{Address: smtp.Address{Local: "bob", Domain: "example.org"}}}
	tests := []struct {
		env  Envelope
		want string
	}{
		{Envelope{Recipients: one, Trace: Trace{Helo: "c.example", RemoteIP: netip.MustParseAddr("192.0.2.1"), ESMTP: true}},
			"Received: from c.example (c.example [192.0.2.1])\r\n\tby mx.example.org with ESMTP id ID\r\n\tfor <bob@example.org>;\r\n\tMon, 06 May 2024 07:08:09 +0200\r\n"},
		{Envelope{Recipients: append(one, one...), Account: &store.Account{}, UTF8: true,
			Trace: Trace{Helo: "bad helo(", RemoteIP: netip.MustParseAddr("2001:db8::1"), ESMTP: true,
				TLS: &tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}}},
			"Received: from [IPv6:2001:db8::1] (helo=bad?helo?)\r\n\tby mx.example.org with UTF8SMTPSA id ID\r\n\ttls TLS_AES_128_GCM_SHA256 (TLS1.3);\r\n\tMon, 06 May 2024 07:08:09 +0200\r\n"},
		{Envelope{Recipients: one, Trace: Trace{Helo: "[192.0.2.9]", RemoteIP: netip.MustParseAddr("::ffff:192.0.2.9")}},
			"Received: from [192.0.2.9] ([192.0.2.9] [192.0.2.9])\r\n\tby mx.example.org with SMTP id ID\r\n\tfor <bob@example.org>;\r\n\tMon, 06 May 2024 07:08:09 +0200\r\n"},
		{Envelope{Recipients: one, Account: &store.Account{}, Trace: Trace{Protocol: "HTTP"}},
			"Received: from localhost\r\n\tby mx.example.org with HTTP id ID\r\n\tfor <bob@example.org>;\r\n\tMon, 06 May 2024 07:08:09 +0200\r\n"},
	}
	for i, tt := range tests {
		if got := string(d.receivedField(&tt.env, "ID", now)); got != tt.want {
			t.Errorf("%d: got\n%q\nwant\n%q", i, got, tt.want)
		}
	}
	// A node of a cluster names itself in a comment after the host name.
	n := New(Options{Hostname: "mx.example.org", Node: "node2"})
	want := "Received: from c.example (c.example [192.0.2.1])\r\n\tby mx.example.org (node node2) with ESMTP id ID\r\n\tfor <bob@example.org>;\r\n\tMon, 06 May 2024 07:08:09 +0200\r\n"
	if got := string(n.receivedField(&tests[0].env, "ID", now)); got != want {
		t.Errorf("with a node: got\n%q\nwant\n%q", got, want)
	}
}

// TestPostmaster: RFC 5321 4.5.1 — postmaster@ every local domain is accepted:
// its own account or alias first, else the configured postmaster, else the
// oldest account.
func TestPostmaster(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	local := func(d *Deliverer, a string) []int64 {
		t.Helper()
		r, err := d.CheckRecipient(ctx, addr(t, a), RcptPolicy{})
		if err != nil {
			t.Fatalf("CheckRecipient(%s): %v", a, err)
		}
		var ids []int64
		for _, x := range r.Local() {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if got := local(f.d, "postmaster@example.org"); !slices.Equal(got, []int64{f.alice.ID}) {
		t.Errorf("no configuration: postmaster → %v, want the oldest account %d", got, f.alice.ID)
	}
	configured := New(Options{Store: f.st, Queue: f.q, Postmaster: "carol@example.org"})
	if got := local(configured, "POSTMASTER@example.org"); !slices.Equal(got, []int64{f.carol.ID}) {
		t.Errorf("configured: postmaster → %v, want carol %d", got, f.carol.ID)
	}
	if err := f.st.AddAlias(ctx, "postmaster@example.org", []string{"bob@example.org"}); err != nil {
		t.Fatal(err)
	}
	if got := local(configured, "postmaster@example.org"); !slices.Equal(got, []int64{f.bob.ID}) {
		t.Errorf("alias: postmaster → %v, want bob %d", got, f.bob.ID)
	}
	// Only postmaster: other unknown names are still refused.
	if _, err := configured.CheckRecipient(ctx, addr(t, "webmaster@example.org"), RcptPolicy{}); !errors.Is(err, smtp.NoSuchUser()) {
		t.Errorf("webmaster: %v", err)
	}
	// And never for a domain that is not ours (no relay).
	if _, err := configured.CheckRecipient(ctx, addr(t, "postmaster@remote.example"), RcptPolicy{}); !errors.Is(err, smtp.RelayDenied()) {
		t.Errorf("postmaster@remote: %v", err)
	}
}

// TestStoreReply: a store write that failed for lack of space is a 452 4.3.1
// (the client retries later), any other a 451 4.3.0.
func TestStoreReply(t *testing.T) {
	full := fmt.Errorf("deliver: %w", fmt.Errorf("%w: %w", store.ErrStorageFull, errors.New("database or disk is full (13)")))
	if r := storeReply(full); r.Code != 452 || r.Enhanced != (smtp.EnhancedCode{4, 3, 1}) {
		t.Errorf("full disk: %d %v", r.Code, r.Enhanced)
	}
	if r := storeReply(errors.New("disk I/O error")); r.Code != 451 || r.Enhanced != (smtp.EnhancedCode{4, 3, 0}) {
		t.Errorf("other error: %d %v", r.Code, r.Enhanced)
	}
}

// TestDeliverJunk: junk goes to the \Junk mailbox whatever its name (alice
// renamed hers), and to INBOX for a recipient who deleted theirs (bob), in
// the same delivery.
func TestDeliverJunk(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	if err := f.st.RenameMailbox(ctx, f.alice.ID, "Junk", "Spam"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteMailbox(ctx, f.bob.ID, "Junk"); err != nil {
		t.Fatal(err)
	}
	env := &Envelope{
		From:       addr(t, "s@remote.example"),
		Recipients: []*Recipient{f.rcpt(t, "alice@example.org", RcptPolicy{}), f.rcpt(t, "bob@example.org", RcptPolicy{})},
		Junk:       true,
	}
	out, err := f.d.Deliver(ctx, env, []byte("Subject: junk\r\n\r\nbody\r\n"))
	if err != nil || !out.Accepted() || out.Reply() != nil {
		t.Fatalf("outcome %+v, %v", out, err)
	}
	spam, err := f.st.Mailbox(ctx, f.alice.ID, "Spam")
	if err != nil {
		t.Fatal(err)
	}
	if spam.Messages != 1 || len(inbox(t, f.st, f.alice.ID)) != 0 {
		t.Errorf("alice: %d in Spam, %d in INBOX; want 1, 0", spam.Messages, len(inbox(t, f.st, f.alice.ID)))
	}
	if n := len(inbox(t, f.st, f.bob.ID)); n != 1 {
		t.Errorf("bob without Junk: %d in INBOX, want 1", n)
	}
	if _, err := f.st.Mailbox(ctx, f.bob.ID, "Junk"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob's deleted Junk made again: %v", err)
	}
}
