package smtpserver

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestMXGreetingAndEHLO(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.MaxMessageBytes = 123456 })
	w := dialWire(t, e.addr, false)
	if text := w.expect(220, ""); !strings.HasPrefix(text, "mx.example.org ") {
		t.Errorf("greeting %q does not start with our hostname", text)
	}
	caps := strings.Split(w.ehlo(), "\n")
	for _, want := range []string{"PIPELINING", "SIZE 123456", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "STARTTLS"} {
		if !slices.Contains(caps, want) {
			t.Errorf("EHLO lacks %q: %q", want, caps)
		}
	}
	for _, c := range caps {
		if strings.HasPrefix(c, "AUTH") {
			t.Errorf("the MX offers %q", c)
		}
	}
	w.cmd("AUTH PLAIN AGFsaWNlAHg=", 502, "5.5.1")
	w.cmd("NOOP", 250, "2.0.0")
	w.cmd("QUIT", 221, "")
	w.closed()
}

func TestMXNoSTARTTLSWithoutCertificate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.TLS = nil })
	w := e.dial()
	if caps := w.ehlo(); strings.Contains(caps, "STARTTLS") {
		t.Errorf("STARTTLS offered without a certificate: %q", caps)
	}
	w.cmd("STARTTLS", 502, "5.5.1")
}

func TestMXDeliver(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	body := testMsg("Sender <sender@remote.example>", "hello alice")
	text := w.send("sender@remote.example", []string{"Alice@Example.ORG"}, body, 250, "2.0.0")
	if !strings.Contains(text, "id ") {
		t.Errorf("250 %q does not name the message id", text)
	}
	msgs := e.inbox(e.alice)
	if len(msgs) != 1 {
		t.Fatalf("alice has %d messages, want 1", len(msgs))
	}
	raw := e.raw(msgs[0])
	// RFC 5321 4.4: Return-Path first, then our Received, then the message as sent.
	if !strings.HasPrefix(raw, "Return-Path: <sender@remote.example>\r\nReceived: from client.example.net (client.example.net [127.0.0.1])\r\n\tby mx.example.org with ESMTP id ") {
		t.Errorf("stored message starts %q", raw[:min(len(raw), 200)])
	}
	if !strings.Contains(raw, "\r\n\tfor <Alice@Example.ORG>;\r\n\t") {
		t.Errorf("Received lacks the for clause: %q", raw[:min(len(raw), 300)])
	}
	if !strings.HasSuffix(raw, body) {
		t.Errorf("stored message does not end with the message as sent")
	}
	id := regexp.MustCompile(`id ([a-z0-9]+)`).FindStringSubmatch(text)
	if id == nil || !strings.Contains(raw, " id "+id[1]+"\r\n") {
		t.Errorf("reply id %v not in the Received field", id)
	}
	if got := e.inbox(e.bob); len(got) != 0 {
		t.Errorf("bob got %d messages", len(got))
	}
	// The session goes on: a second transaction on the same connection.
	w.send("", []string{"bob@example.org"}, testMsg("MAILER-DAEMON@remote.example", "bounce"), 250, "2.0.0")
	msgs = e.inbox(e.bob)
	if len(msgs) != 1 || !strings.HasPrefix(e.raw(msgs[0]), "Return-Path: <>\r\n") {
		t.Fatalf("bounce to bob: %d messages", len(msgs))
	}
}

func TestMXUnknownRecipient(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<sender@remote.example>", 250, "")
	w.cmd("RCPT TO:<nobody@example.org>", 550, "5.1.1")
	w.cmd("RCPT TO:<bad address@@example.org>", 501, "")
	w.cmd("DATA", 502, "") // no recipients yet
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.cmd("DATA", 354, "")
	w.write(testMsg("s@remote.example", "after refusal") + ".\r\n")
	w.expect(250, "2.0.0")
	if n := len(e.inbox(e.alice)); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
}

func TestMXRelayDenied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<alice@example.org>", 250, "")
	for _, rcpt := range []string{"victim@remote.example", "x@[192.0.2.1]", "alice@example.org.evil.example", `"alice@example.org"@remote.example`} {
		w.cmd("RCPT TO:<"+rcpt+">", 554, "5.7.1")
	}
	w.cmd("RSET", 250, "")
	if n := len(e.q.all()); n != 0 {
		t.Errorf("%d messages queued by an unauthenticated client", n)
	}
}

func TestMXSizeParameter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.MaxMessageBytes = 10000 })
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example> SIZE=10001", 552, "5.3.4")
	w.cmd("MAIL FROM:<s@remote.example> SIZE=9000 BODY=8BITMIME", 250, "")
}

func TestMXOversizedMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.MaxMessageBytes = 10000 })
	w := e.dial()
	w.ehlo()
	big := testMsg("s@remote.example", "big") + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 500)
	// No SIZE announced: the limit is enforced while the data streams in.
	w.send("s@remote.example", []string{"alice@example.org"}, big, 552, "5.3.4")
	// BDAT: refused by chunk size before reading it.
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(big), big))
	w.expect(552, "5.3.4")
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Fatalf("oversized messages stored: %d", n)
	}
	// The connection is still usable.
	w.send("s@remote.example", []string{"alice@example.org"}, testMsg("s@remote.example", "small"), 250, "2.0.0")
	if got := subjects(e.inbox(e.alice)); !slices.Equal(got, []string{"small"}) {
		t.Fatalf("alice has %q", got)
	}
}

func TestMXTooManyRecipients(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.MaxRecipients = 2 })
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.cmd("RCPT TO:<bob@example.org>", 250, "")
	w.cmd("RCPT TO:<carol@example.org>", 452, "4.5.3")
	w.cmd("DATA", 354, "")
	w.write(testMsg("s@remote.example", "two of three") + ".\r\n")
	w.expect(250, "2.0.0")
	if len(e.inbox(e.alice)) != 1 || len(e.inbox(e.bob)) != 1 || len(e.inbox(e.carol)) != 0 {
		t.Errorf("alice %d, bob %d, carol %d messages; want 1 1 0",
			len(e.inbox(e.alice)), len(e.inbox(e.bob)), len(e.inbox(e.carol)))
	}
}

// TestMXStoredOnce: one message to three local recipients (and one of them
// twice, once through an alias) is one blob and one copy per account.
func TestMXStoredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	if err := e.st.AddAlias(context.Background(), "team@example.org", []string{"alice@example.org", "bob@example.org"}); err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	w.ehlo()
	w.send("s@remote.example", []string{"alice@example.org", "bob@example.org", "carol@example.org", "team@example.org"},
		testMsg("s@remote.example", "to three"), 250, "2.0.0")
	var blobs []string
	for _, a := range []struct {
		name string
		id   int64
	}{{"alice", e.alice.ID}, {"bob", e.bob.ID}, {"carol", e.carol.ID}} {
		msgs := listInbox(t, e.st, a.id)
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages, want 1", a.name, len(msgs))
		}
		blobs = append(blobs, msgs[0].BlobID)
	}
	if blobs[0] != blobs[1] || blobs[1] != blobs[2] {
		t.Errorf("blob ids differ: %q", blobs)
	}
	// Several recipients: no "for" clause, which would disclose Bcc recipients.
	if raw := e.raw(e.inbox(e.alice)[0]); strings.Contains(raw, "\tfor <") {
		t.Errorf("Received names a recipient of a multi-recipient message")
	}
}

func TestMXAliasForwarding(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	ctx := context.Background()
	if err := e.st.AddAlias(ctx, "list@example.org", []string{"alice@example.org", "friend@remote.example"}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddAlias(ctx, "@example.org", []string{"carol@example.org"}); err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<list@example.org> NOTIFY=FAILURE", 250, "")
	w.cmd("RCPT TO:<anything@example.org>", 250, "")   // catch-all
	w.cmd("RCPT TO:<alice+news@example.org>", 250, "") // +tag, same account as the alias member
	w.cmd("DATA", 354, "")
	body := testMsg("s@remote.example", "forwarded")
	w.write(body + ".\r\n")
	w.expect(250, "2.0.0")
	if n := len(e.inbox(e.alice)); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
	if n := len(e.inbox(e.carol)); n != 1 {
		t.Errorf("carol (catch-all) has %d messages, want 1", n)
	}
	q := e.q.all()
	if len(q) != 1 {
		t.Fatalf("%d messages queued, want 1", len(q))
	}
	m := q[0]
	if m.From != "s@remote.example" || !slices.Equal(m.Recipients, []string{"friend@remote.example"}) || m.AccountID != 0 {
		t.Errorf("queued From %q Recipients %q AccountID %d", m.From, m.Recipients, m.AccountID)
	}
	raw := string(m.Raw)
	if !strings.HasPrefix(raw, "Received: from client.example.net") || strings.Contains(raw, "Return-Path:") || !strings.HasSuffix(raw, body) {
		t.Errorf("queued message: %q", raw[:min(200, len(raw))])
	}
	if m.Notify["friend@remote.example"] != "FAILURE" || m.ORcpt["friend@remote.example"] != "rfc822;list@example.org" {
		t.Errorf("queued DSN parameters: Notify %v ORcpt %v", m.Notify, m.ORcpt)
	}
}

func TestMXQueueFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	if err := e.st.AddAlias(context.Background(), "fwd@example.org", []string{"friend@remote.example"}); err != nil {
		t.Fatal(err)
	}
	e.q.mu.Lock()
	e.q.err = fmt.Errorf("queue disk is full")
	e.q.mu.Unlock()
	w := e.dial()
	w.ehlo()
	text := w.send("s@remote.example", []string{"fwd@example.org"}, testMsg("s@remote.example", "x"), 451, "4.3.0")
	if strings.Contains(text, "disk") {
		t.Errorf("reply reveals the internal error: %q", text)
	}
}

func TestMXQuota(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	ctx := context.Background()
	if err := e.st.SetQuota(ctx, "bob@example.org", 2000, 0); err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	w.ehlo()
	// SIZE= lets a full mailbox be refused at RCPT, before any data.
	w.cmd("MAIL FROM:<s@remote.example> SIZE=5000", 250, "")
	w.cmd("RCPT TO:<bob@example.org>", 452, "4.2.2")
	w.cmd("RSET", 250, "")
	// Without SIZE the store refuses at DATA; alone, bob's failure is the reply.
	big := testMsg("s@remote.example", "big") + strings.Repeat("y", 3000) + "\r\n"
	w.send("s@remote.example", []string{"bob@example.org"}, big, 452, "4.2.2")
	// With another recipient the message is accepted for alice.
	w.send("s@remote.example", []string{"alice@example.org", "bob@example.org"}, big, 250, "2.0.0")
	if len(e.inbox(e.alice)) != 1 || len(e.inbox(e.bob)) != 0 {
		t.Errorf("alice %d bob %d messages, want 1 0", len(e.inbox(e.alice)), len(e.inbox(e.bob)))
	}
}

func TestMXLoopDetection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	hops := strings.Repeat("Received: from a by b; Tue, 2 Jan 2024 03:04:05 +0000\r\n", 100)
	w.send("s@remote.example", []string{"alice@example.org"}, hops+testMsg("s@remote.example", "loop"), 554, "5.4.6")
	hops = strings.Repeat("Received: from a by b; Tue, 2 Jan 2024 03:04:05 +0000\r\n", 99)
	w.send("s@remote.example", []string{"alice@example.org"}, hops+testMsg("s@remote.example", "99 hops"), 250, "2.0.0")
}
