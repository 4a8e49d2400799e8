package delivery_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/queue"
	"gannet/internal/smtp"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// sieveFixture delivers through the real Deliverer into a real store, with
// the real queue (not started: enqueued messages stay in the store's queue,
// where the tests read them).
type sieveFixture struct {
	st         store.Store
	d          *delivery.Deliverer
	alice, bob *store.Account
	now        time.Time
	reports    *reportList
	logs       *syncBuffer
}

type reportList struct {
	mu   sync.Mutex
	list []delivery.Report
}

func (r *reportList) Report(ctx context.Context, rep delivery.Report) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, rep)
	return nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newSieveFixture(t *testing.T) *sieveFixture {
	t.Helper()
	st := testopen.Open(t, testopen.FastPasswords)
	f := &sieveFixture{st: st, now: time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC), reports: &reportList{}, logs: &syncBuffer{}}
	f.alice = storetest.NewAccount(t, st, "alice@example.org", "pw")
	f.bob = storetest.NewAccount(t, st, "bob@example.org", "pw")
	clock := func() time.Time { return f.now }
	q := queue.New(queue.Options{Store: st, Hostname: "mx.example.org", Now: clock})
	f.d = delivery.New(delivery.Options{Store: st, Queue: q, Reporter: f.reports, Hostname: "mx.example.org", Now: clock,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil))})
	return f
}

func (f *sieveFixture) script(t *testing.T, a *store.Account, src string) {
	t.Helper()
	ctx := context.Background()
	if err := f.st.PutSieveScript(ctx, a.ID, "main", []byte(src)); err != nil {
		t.Fatalf("PutSieveScript: %v", err)
	}
	if err := f.st.ActivateSieveScript(ctx, a.ID, "main"); err != nil {
		t.Fatal(err)
	}
}

// deliver sends msg from "from" to the recipients over the MX path
// (unauthenticated) and returns the outcome.
func (f *sieveFixture) deliver(t *testing.T, from string, msg string, rcpts ...string) *delivery.Outcome {
	t.Helper()
	ctx := context.Background()
	env := &delivery.Envelope{}
	if from != "" {
		a, err := smtp.ParseAddress(from)
		if err != nil {
			t.Fatal(err)
		}
		env.From = a
	}
	for _, r := range rcpts {
		a, err := smtp.ParseAddress(r)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := f.d.CheckRecipient(ctx, a, delivery.RcptPolicy{})
		if err != nil {
			t.Fatalf("CheckRecipient(%s): %v", r, err)
		}
		env.Recipients = append(env.Recipients, rc)
	}
	out, err := f.d.Deliver(ctx, env, []byte(strings.ReplaceAll(msg, "\n", "\r\n")))
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	return out
}

// mailbox lists a mailbox's messages; nil when it does not exist.
func (f *sieveFixture) mailbox(t *testing.T, a *store.Account, name string) []store.Message {
	t.Helper()
	ctx := context.Background()
	mb, err := f.st.Mailbox(ctx, a.ID, name)
	if err != nil {
		return nil
	}
	msgs, err := f.st.List(ctx, a.ID, mb.ID, nil, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

func (f *sieveFixture) body(t *testing.T, m store.Message) string {
	t.Helper()
	rc, err := f.st.Open(context.Background(), m.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *sieveFixture) queued(t *testing.T) []store.QueuedMessage {
	t.Helper()
	list, err := f.st.QueueList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func queuedData(t *testing.T, st store.Store, id int64) string {
	t.Helper()
	b, err := st.QueueMessageData(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const sieveMsg = `From: Carol <carol@remote.example>
To: alice@example.org
Subject: %s
Message-ID: <%s@remote.example>
Date: Wed, 06 May 2026 07:00:00 +0000

Hello Alice.
`

func msgWith(subject, id string) string {
	return strings.NewReplacer("%s@", id+"@", "%s", subject).Replace(strings.Replace(sieveMsg, "%s", subject, 1))
}

func TestSieveFileIntoWithFlags(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	f.script(t, f.alice, `require ["fileinto", "imap4flags", "mailbox"];
if header :contains "subject" "invoice" {
  fileinto :create :flags ["\\Flagged", "$Invoice"] "Bills/2026";
  stop;
}
if header :contains "subject" "news" {
  addflag "\\Seen";
  fileinto "Archive";
}
`)
	if out := f.deliver(t, "carol@remote.example", msgWith("Your invoice", "1"), "alice@example.org"); out.Reply() != nil {
		t.Fatalf("refused: %v", out.Reply())
	}
	bills := f.mailbox(t, f.alice, "Bills/2026")
	if len(bills) != 1 {
		t.Fatalf("Bills/2026 holds %d messages, want 1 (created by :create)", len(bills))
	}
	if !slices.Contains(bills[0].Flags, `\Flagged`) || !slices.Contains(bills[0].Flags, "$Invoice") {
		t.Fatalf("flags %v, want \\Flagged and $Invoice", bills[0].Flags)
	}
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 0 {
		t.Fatalf("INBOX holds %d, want 0 (fileinto cancels the implicit keep)", n)
	}
	f.deliver(t, "carol@remote.example", msgWith("Weekly news", "2"), "alice@example.org")
	arch := f.mailbox(t, f.alice, "Archive")
	if len(arch) != 1 || !slices.Contains(arch[0].Flags, `\Seen`) {
		t.Fatalf("Archive = %+v, want one \\Seen message", arch)
	}
	// Not matching: INBOX; bob (no script) unaffected.
	f.deliver(t, "carol@remote.example", msgWith("Hello", "3"), "alice@example.org", "bob@example.org")
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 1 {
		t.Fatalf("alice INBOX holds %d, want 1", n)
	}
	if n := len(f.mailbox(t, f.bob, "INBOX")); n != 1 {
		t.Fatalf("bob INBOX holds %d, want 1", n)
	}
	// fileinto a missing mailbox without :create: the implicit keep.
	f.script(t, f.alice, `require "fileinto"; fileinto "Nowhere";`)
	f.deliver(t, "carol@remote.example", msgWith("Hello", "4"), "alice@example.org")
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 2 {
		t.Fatalf("alice INBOX holds %d, want 2 (kept when fileinto's mailbox is missing)", n)
	}
	if f.mailbox(t, f.alice, "Nowhere") != nil {
		t.Fatal("fileinto without :create created the mailbox")
	}
}

func TestSieveDiscard(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	f.script(t, f.alice, `if address :is "from" "carol@remote.example" { discard; }`)
	out := f.deliver(t, "carol@remote.example", msgWith("spam", "1"), "alice@example.org", "bob@example.org")
	if out.Reply() != nil || out.Results[0].Err != nil {
		t.Fatalf("discard must accept the message: %+v", out.Results)
	}
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 0 {
		t.Fatalf("alice INBOX holds %d after discard", n)
	}
	if n := len(f.mailbox(t, f.bob, "INBOX")); n != 1 {
		t.Fatalf("bob INBOX holds %d, want 1", n)
	}
	if len(f.reports.list) != 0 {
		t.Fatalf("discard reported: %+v", f.reports.list)
	}
}

func TestSieveRedirect(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	f.script(t, f.alice, `require "copy";
redirect :copy "alice@elsewhere.example";
redirect "alice2@other.example";
`)
	out := f.deliver(t, "carol@remote.example", msgWith("forward me", "1"), "alice@example.org")
	if out.Reply() != nil {
		t.Fatalf("refused: %v", out.Reply())
	}
	q := f.queued(t)
	if len(q) != 1 {
		t.Fatalf("%d queued messages, want 1", len(q))
	}
	if q[0].From != "carol@remote.example" {
		t.Fatalf("redirect envelope sender %q, want the original sender", q[0].From)
	}
	var rcpts []string
	for _, r := range q[0].Recipients {
		rcpts = append(rcpts, r.Address)
	}
	slices.Sort(rcpts)
	if !slices.Equal(rcpts, []string{"alice2@other.example", "alice@elsewhere.example"}) {
		t.Fatalf("redirect recipients %q", rcpts)
	}
	data := queuedData(t, f.st, q[0].ID)
	if !strings.Contains(data, "Subject: forward me") || strings.HasPrefix(data, "Return-Path:") || !strings.HasPrefix(data, "Received:") {
		t.Fatalf("redirected copy:\n%s", data)
	}
	// A plain redirect cancels the implicit keep (RFC 5228 4.2).
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 0 {
		t.Fatalf("INBOX holds %d, want 0", n)
	}
}

func TestSieveRedirectFailureKeeps(t *testing.T) {
	t.Parallel()
	st := testopen.Open(t, testopen.FastPasswords)
	alice := storetest.NewAccount(t, st, "alice@example.org", "pw")
	d := delivery.New(delivery.Options{Store: st, Hostname: "mx.example.org"}) // no queue
	if err := st.PutSieveScript(context.Background(), alice.ID, "s", []byte(`redirect "x@other.example";`)); err != nil {
		t.Fatal(err)
	}
	if err := st.ActivateSieveScript(context.Background(), alice.ID, "s"); err != nil {
		t.Fatal(err)
	}
	a, _ := smtp.ParseAddress("alice@example.org")
	rc, err := d.CheckRecipient(context.Background(), a, delivery.RcptPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Deliver(context.Background(), &delivery.Envelope{Recipients: []*delivery.Recipient{rc}}, []byte("Subject: x\r\n\r\nx\r\n"))
	if err != nil || out.Reply() != nil {
		t.Fatalf("Deliver: %v %v", err, out.Reply())
	}
	mb, _ := st.Mailbox(context.Background(), alice.ID, "INBOX")
	if mb.Messages != 1 {
		t.Fatalf("INBOX holds %d, want the message kept when the redirect cannot be queued", mb.Messages)
	}
}

func TestSieveVacation(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	f.script(t, f.alice, `require "vacation";
vacation :days 3 :subject "Away" "I am away until Monday.";
`)
	f.deliver(t, "carol@remote.example", msgWith("one", "1"), "alice@example.org")
	q := f.queued(t)
	if len(q) != 1 {
		t.Fatalf("%d queued, want one vacation reply", len(q))
	}
	if q[0].From != "" || len(q[0].Recipients) != 1 || q[0].Recipients[0].Address != "carol@remote.example" {
		t.Fatalf("vacation envelope: from %q to %+v, want <> to the sender", q[0].From, q[0].Recipients)
	}
	data := queuedData(t, f.st, q[0].ID)
	for _, want := range []string{"Auto-Submitted: auto-replied", "Subject: Away", "In-Reply-To: <1@remote.example>", "I am away until Monday.", "alice@example.org"} {
		if !strings.Contains(data, want) {
			t.Errorf("vacation reply lacks %q:\n%s", want, data)
		}
	}
	// The message itself is kept.
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 1 {
		t.Fatalf("INBOX holds %d, want 1", n)
	}
	// Same sender within the period: no second reply.
	f.now = f.now.Add(24 * time.Hour)
	f.deliver(t, "carol@remote.example", msgWith("two", "2"), "alice@example.org")
	if n := len(f.queued(t)); n != 1 {
		t.Fatalf("%d queued after a second message within :days, want still 1", n)
	}
	// A list message gets none (RFC 5230 4.6 via the engine); nor does <>.
	f.deliver(t, "dave@remote.example", strings.Replace(msgWith("list", "3"), "Subject:", "List-Id: <l.remote.example>\nSubject:", 1), "alice@example.org")
	f.deliver(t, "", msgWith("bounce", "4"), "alice@example.org")
	if n := len(f.queued(t)); n != 1 {
		t.Fatalf("%d queued after a list message and a bounce, want still 1", n)
	}
	// After the period: replied again.
	f.now = f.now.Add(3 * 24 * time.Hour)
	f.deliver(t, "carol@remote.example", msgWith("three", "5"), "alice@example.org")
	if n := len(f.queued(t)); n != 2 {
		t.Fatalf("%d queued after the period, want 2", n)
	}
}

func TestSieveReject(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	f.script(t, f.alice, `require "reject";
if header :contains "subject" "buy" { reject "No thanks.
Really."; }
`)
	// One recipient: the refusal is the reply to the transaction.
	out := f.deliver(t, "carol@remote.example", msgWith("buy now", "1"), "alice@example.org")
	r := out.Reply()
	if r == nil || r.Code != 550 || r.Enhanced != (smtp.EnhancedCode{5, 7, 1}) || r.Text != "No thanks. Really." {
		t.Fatalf("reply %v, want 550 5.7.1 No thanks. Really.", r)
	}
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 0 {
		t.Fatalf("rejected message stored: INBOX holds %d", n)
	}
	// With another recipient the message is accepted and the refusal is a DSN.
	out = f.deliver(t, "carol@remote.example", msgWith("buy more", "2"), "alice@example.org", "bob@example.org")
	if out.Reply() != nil || out.Results[0].Err == nil || out.Results[1].Err != nil {
		t.Fatalf("results %+v", out.Results)
	}
	if len(f.reports.list) != 1 || len(f.reports.list[0].Recipients) != 1 ||
		f.reports.list[0].Recipients[0].Action != "failed" || f.reports.list[0].Recipients[0].Reply.Code != 550 {
		t.Fatalf("reports %+v, want one failed DSN for alice", f.reports.list)
	}
	if n := len(f.mailbox(t, f.bob, "INBOX")); n != 1 {
		t.Fatalf("bob INBOX holds %d, want 1", n)
	}
}

func TestSieveBrokenScriptKeeps(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	// A run-time failure: include of a script that does not exist.
	f.script(t, f.alice, `require ["include", "fileinto"];
include :personal "missing";
fileinto "Archive";
`)
	out := f.deliver(t, "carol@remote.example", msgWith("x", "1"), "alice@example.org")
	if out.Reply() != nil {
		t.Fatalf("refused: %v", out.Reply())
	}
	if n := len(f.mailbox(t, f.alice, "INBOX")); n != 1 {
		t.Fatalf("INBOX holds %d, want the message kept after a run-time error", n)
	}
	if !strings.Contains(f.logs.String(), "run-time error") {
		t.Fatalf("no log line for the failed script:\n%s", f.logs.String())
	}
}

func TestSieveEditHeaderAndDuplicate(t *testing.T) {
	t.Parallel()
	f := newSieveFixture(t)
	f.script(t, f.alice, `require ["editheader", "duplicate", "fileinto"];
if duplicate { fileinto "Trash"; stop; }
addheader "X-Filtered" "yes";
`)
	f.deliver(t, "carol@remote.example", msgWith("first", "1"), "alice@example.org", "bob@example.org")
	in := f.mailbox(t, f.alice, "INBOX")
	if len(in) != 1 || !strings.Contains(f.body(t, in[0]), "X-Filtered: yes\r\n") {
		t.Fatalf("alice's copy lacks the added header")
	}
	if !strings.HasPrefix(f.body(t, in[0]), "Return-Path: <carol@remote.example>\r\n") {
		t.Fatalf("alice's edited copy lost its Return-Path:\n%s", f.body(t, in[0]))
	}
	bobs := f.mailbox(t, f.bob, "INBOX")
	if len(bobs) != 1 || strings.Contains(f.body(t, bobs[0]), "X-Filtered") {
		t.Fatalf("bob's copy was edited by alice's script")
	}
	// The same Message-ID again: a duplicate.
	f.deliver(t, "carol@remote.example", msgWith("again", "1"), "alice@example.org")
	if n := len(f.mailbox(t, f.alice, "Trash")); n != 1 {
		t.Fatalf("Trash holds %d, want the duplicate", n)
	}
}
