// Package storetest is the contract test suite that every store.Store backend
// must pass unchanged (SQLite always, PostgreSQL when GANNET_TEST_POSTGRES is set).
//
// A backend's own test calls Run with a function that opens a fresh, empty store
// and registers its own cleanup (Close, which must be safe to call twice):
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlstore.Open(t.Context(), t.TempDir(), sqlstore.Options{})
//			if err != nil { t.Fatal(err) }
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Invariants of the suite itself: every sub-test is parallel and opens its own
// store, so tests never share state; every assertion compares real values read
// back from the store; the whole suite stays fast (seconds, also under -race).
// Messages are small RFC 5322 messages with CRLF line endings, built by Msg.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

// GCGraceSetter is implemented by backends whose GC keeps unreferenced blobs for a
// grace period (so that a blob written by a delivery still in flight is not
// collected). The suite sets the grace to 0 to test that GC really collects.
type GCGraceSetter interface {
	SetGCGrace(time.Duration)
}

// Run runs the whole contract suite against the backend that open returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name  string
		tests func() []subtest
	}{
		{"Domains", domainTests},
		{"Accounts", accountTests},
		{"Revoke", revokeTests},
		{"Aliases", aliasTests},
		{"Mailboxes", mailboxTests},
		{"Messages", messageTests},
		{"Quota", quotaTests},
		{"UID", uidTests},
		{"ModSeq", modseqTests},
		{"Flags", flagTests},
		{"CopyMove", copyMoveTests},
		{"Expunge", expungeTests},
		{"Search", searchTests},
		{"Feed", feedTests},
		{"Concurrency", concurrencyTests},
		{"GC", gcTests},
		{"Lifecycle", lifecycleTests},
		{"DKIMKeys", dkimKeyTests},
		{"Queue", queueTests},
		{"Locks", lockTests},
		{"WebSessions", webSessionTests},
		{"Recent", recentTests},
		{"SelectState", selectStateTests},
		{"Sieve", sieveTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, st := range g.tests() {
				t.Run(st.name, func(t *testing.T) {
					t.Parallel()
					st.fn(t, open(t))
				})
			}
		})
	}
}

type subtest struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

// Msg builds a small RFC 5322 message with CRLF line endings. Zero fields get
// realistic defaults; the default Message-ID is derived from the other fields, so
// two Msgs that differ anywhere produce different bytes (and different blobs).
type Msg struct {
	From        string    // default "Sender <sender@example.net>"
	To          string    // default "rcpt@example.org"
	Cc          string    // omitted when empty
	Subject     string    // default "Test message"
	Date        time.Time // default 2024-01-02 03:04:05 UTC
	MessageID   string    // default derived from the other fields
	Headers     []string  // extra "Name: value" lines, in order
	ContentType string    // default "text/plain; charset=utf-8"; "-" omits MIME headers
	Encoding    string    // Content-Transfer-Encoding; omitted when empty
	Body        string    // "\n" is turned into CRLF
}

// Bytes renders the message.
func (m Msg) Bytes() []byte {
	if m.From == "" {
		m.From = "Sender <sender@example.net>"
	}
	if m.To == "" {
		m.To = "rcpt@example.org"
	}
	if m.Subject == "" {
		m.Subject = "Test message"
	}
	if m.Date.IsZero() {
		m.Date = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	if m.ContentType == "" {
		m.ContentType = "text/plain; charset=utf-8"
	}
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if m.MessageID == "" {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s|%s|%s|%s|%s|%v|%s|%s|%s", m.From, m.To, m.Cc, m.Subject,
			m.Date.Format(time.RFC3339Nano), m.Headers, m.ContentType, m.Encoding, body)
		m.MessageID = fmt.Sprintf("<%016x@example.net>", h.Sum64())
	}
	var b strings.Builder
	line := func(s string) { b.WriteString(s); b.WriteString("\r\n") }
	line("Date: " + m.Date.Format(time.RFC1123Z))
	line("From: " + m.From)
	line("To: " + m.To)
	if m.Cc != "" {
		line("Cc: " + m.Cc)
	}
	line("Subject: " + m.Subject)
	line("Message-ID: " + m.MessageID)
	for _, h := range m.Headers {
		line(h)
	}
	if m.ContentType != "-" {
		line("MIME-Version: 1.0")
		line("Content-Type: " + m.ContentType)
		if m.Encoding != "" {
			line("Content-Transfer-Encoding: " + m.Encoding)
		}
	}
	line("")
	b.WriteString(body)
	if body != "" && !strings.HasSuffix(body, "\r\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}

// NewAccount adds address (and its domain, if not there yet) to s and returns the
// account. It fails the test on any error.
func NewAccount(tb testing.TB, s store.Store, address, password string) *store.Account {
	tb.Helper()
	ctx := context.Background()
	_, domain, ok := strings.Cut(address, "@")
	if !ok {
		tb.Fatalf("NewAccount(%q): no domain", address)
	}
	if err := s.AddDomain(ctx, domain); err != nil && !errors.Is(err, store.ErrExists) {
		tb.Fatalf("AddDomain(%q): %v", domain, err)
	}
	a, err := s.AddAccount(ctx, address, password)
	if err != nil {
		tb.Fatalf("AddAccount(%q): %v", address, err)
	}
	return a
}

// --- unexported helpers shared by the tests ---

// account creates an account with the conventional test password.
func account(t testing.TB, s store.Store, address string) *store.Account {
	t.Helper()
	return NewAccount(t, s, address, pw(address))
}

func pw(address string) string { return "correct horse " + address }

func mbox(t testing.TB, s store.Store, accountID int64, name string) *store.Mailbox {
	t.Helper()
	mb, err := s.Mailbox(context.Background(), accountID, name)
	if err != nil {
		t.Fatalf("Mailbox(%d, %q): %v", accountID, name, err)
	}
	return mb
}

func mboxByID(t testing.TB, s store.Store, accountID, id int64) *store.Mailbox {
	t.Helper()
	mb, err := s.MailboxByID(context.Background(), accountID, id)
	if err != nil {
		t.Fatalf("MailboxByID(%d, %d): %v", accountID, id, err)
	}
	return mb
}

func createMbox(t testing.TB, s store.Store, accountID int64, name string) *store.Mailbox {
	t.Helper()
	mb, err := s.CreateMailbox(context.Background(), accountID, name, "")
	if err != nil {
		t.Fatalf("CreateMailbox(%d, %q): %v", accountID, name, err)
	}
	return mb
}

// appendMsg appends raw and returns its UID, checking the result's sanity.
func appendMsg(t testing.TB, s store.Store, accountID, mailboxID int64, raw []byte, flags []string, date time.Time) uint32 {
	t.Helper()
	r, err := s.Append(context.Background(), accountID, mailboxID, raw, flags, date)
	if err != nil {
		t.Fatalf("Append(mailbox %d): %v", mailboxID, err)
	}
	if r.Err != nil {
		t.Fatalf("Append(mailbox %d): result error %v", mailboxID, r.Err)
	}
	if r.UID == 0 {
		t.Fatalf("Append(mailbox %d): UID 0", mailboxID)
	}
	if r.MailboxID != 0 && r.MailboxID != mailboxID {
		t.Fatalf("Append(mailbox %d): result MailboxID %d", mailboxID, r.MailboxID)
	}
	return r.UID
}

// appendN appends n distinct messages (subjects prefix-1 ... prefix-n).
func appendN(t testing.TB, s store.Store, accountID, mailboxID int64, prefix string, n int) []uint32 {
	t.Helper()
	var uids []uint32
	for i := 1; i <= n; i++ {
		raw := Msg{Subject: fmt.Sprintf("%s-%d", prefix, i), Body: fmt.Sprintf("Body of %s number %d.\n", prefix, i)}.Bytes()
		uids = append(uids, appendMsg(t, s, accountID, mailboxID, raw, nil, time.Time{}))
	}
	return uids
}

func list(t testing.TB, s store.Store, accountID, mailboxID int64, uids store.UIDSet) []store.Message {
	t.Helper()
	msgs, err := s.List(context.Background(), accountID, mailboxID, uids, store.ListOptions{})
	if err != nil {
		t.Fatalf("List(mailbox %d, %v): %v", mailboxID, uids, err)
	}
	return msgs
}

func one(t testing.TB, s store.Store, accountID, mailboxID int64, uid uint32) store.Message {
	t.Helper()
	msgs := list(t, s, accountID, mailboxID, store.UIDSet{{Lo: uid, Hi: uid}})
	if len(msgs) != 1 || msgs[0].UID != uid {
		t.Fatalf("List(mailbox %d, uid %d) = %d messages %v, want that one", mailboxID, uid, len(msgs), uidsOf(msgs))
	}
	return msgs[0]
}

func uidsOf(msgs []store.Message) []uint32 {
	out := make([]uint32, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	return out
}

func acctModSeq(t testing.TB, s store.Store, accountID int64) uint64 {
	t.Helper()
	a, err := s.AccountByID(context.Background(), accountID)
	if err != nil {
		t.Fatalf("AccountByID(%d): %v", accountID, err)
	}
	return a.ModSeq
}

func accountByID(t testing.TB, s store.Store, accountID int64) *store.Account {
	t.Helper()
	a, err := s.AccountByID(context.Background(), accountID)
	if err != nil {
		t.Fatalf("AccountByID(%d): %v", accountID, err)
	}
	return a
}

func set(uids ...uint32) store.UIDSet {
	out := store.UIDSet{}
	for _, u := range uids {
		out = append(out, store.UIDRange{Lo: u, Hi: u})
	}
	return out
}

func wantUIDs(t testing.TB, what string, got, want []uint32) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func noErr(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// canonFlags sorts flags the documented way: system flags first, then keywords,
// each group sorted.
func canonFlags(flags []string) []string {
	out := slices.Clone(flags)
	sort.SliceStable(out, func(i, j int) bool {
		si, sj := strings.HasPrefix(out[i], `\`), strings.HasPrefix(out[j], `\`)
		if si != sj {
			return si
		}
		return out[i] < out[j]
	})
	return out
}

// sameFlags compares flag lists as sets (order is checked by Flags/Order only).
func sameFlags(got, want []string) bool {
	return slices.Equal(canonFlags(got), canonFlags(want))
}

func wantFlags(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !sameFlags(got, want) {
		t.Errorf("%s flags = %q, want %q", what, got, want)
	}
}

func readAll(t testing.TB, rc io.ReadCloser, err error, what string) []byte {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("%s: read: %v", what, err)
	}
	return b
}

func day(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
}

// deliver delivers d and fails the test unless every recipient was stored.
func deliver(t testing.TB, s store.Store, d store.Delivery) []store.DeliveryResult {
	t.Helper()
	res, err := s.Deliver(context.Background(), d)
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	if len(res) != len(d.Recipients) {
		t.Fatalf("Deliver returned %d results for %d recipients", len(res), len(d.Recipients))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("Deliver recipient %d (%+v): %v", i, d.Recipients[i], r.Err)
		}
		if r.UID == 0 || r.MailboxID == 0 || r.UIDValidity == 0 {
			t.Fatalf("Deliver recipient %d: result %+v has a zero UID, MailboxID or UIDValidity", i, r)
		}
	}
	return res
}
