package smtpserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSmuggling sends the SMTP smuggling payload: a message whose body holds
// "\n.\n" (or another end-of-data look-alike) followed by a second
// transaction, ending with a real CRLF.CRLF. A server that ended DATA at the
// look-alike would deliver a second, forged message to bob. Ours reads to the
// real end, so at most the one message results, and it refuses a message with
// a visible bare CR or LF.
func TestSmuggling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	accepted := 0
	for _, tt := range []struct {
		end     string
		refused bool
	}{
		{"\n.\n", true},
		{"\n.\r\n", true},
		{"\r.\r", true},
		{"\r.\r\n", true},
		{"\r\n.\n", true},
		{"\n..\n", true},
		// A line ".\r\r\n" is not the end: unstuffed, it is "\r\r\n", a bare
		// CR (go-smtp's reader dropped that CR and stored the message).
		{"\r\n.\r\r\n", true},
	} {
		t.Run(fmt.Sprintf("%q", tt.end), func(t *testing.T) {
			w := e.dial()
			w.ehlo()
			w.cmd("MAIL FROM:<legit@remote.example>", 250, "")
			w.cmd("RCPT TO:<alice@example.org>", 250, "")
			w.cmd("DATA", 354, "")
			w.write("From: legit@remote.example\r\nSubject: legit\r\n\r\nhello" + tt.end +
				"MAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n" +
				"From: ceo@example.org\r\nSubject: smuggled\r\n\r\npay the invoice\r\n.\r\n")
			if tt.refused {
				w.expect(554, "5.6.0")
			} else {
				w.expect(250, "2.0.0")
				accepted++
			}
			// The next command is read as a command: nothing was left over.
			w.cmd("NOOP", 250, "")
			w.cmd("QUIT", 221, "")
		})
	}
	if got := subjects(e.inbox(e.alice)); len(got) != accepted {
		t.Errorf("alice got %q, want %d messages", got, accepted)
	}
	if got := subjects(e.inbox(e.bob)); len(got) != 0 {
		t.Errorf("bob got the smuggled message: %q", got)
	}
}

func TestBareLineEndings(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	for _, tt := range []struct {
		body string
		data bool // also over DATA (see TestBareCRBeforeEnd for the rest)
	}{
		{"Subject: lf\n\nbody\r\n", true},
		{"Subject: cr\r\n\r\nbo\rdy\r\n", true},
		{"Subject: lfcr\r\n\r\nbody\n\r\n", true},
		{"Subject: crcrlf\r\n\r\nbody\r\r\n", false},
		{"Subject: last cr\r\n\r\nbody\r", false},
		{"Subject: last lf\r\n\r\nbody\n", false},
	} {
		if tt.data {
			w.send("s@remote.example", []string{"alice@example.org"}, tt.body, 554, "5.6.0")
		}
		// BDAT carries bytes as they are, and gets the same check.
		w.cmd("MAIL FROM:<s@remote.example>", 250, "")
		w.cmd("RCPT TO:<alice@example.org>", 250, "")
		w.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(tt.body), tt.body))
		w.expect(554, "5.6.0")
	}
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Fatalf("%d messages with bare line endings stored", n)
	}
	// Dot-stuffing is undone, and a line that is only a dot survives.
	w.send("s@remote.example", []string{"alice@example.org"}, "Subject: dots\r\n\r\n..\r\n...x\r\n", 250, "2.0.0")
	msgs := e.inbox(e.alice)
	if len(msgs) != 1 || !strings.HasSuffix(e.raw(msgs[0]), "Subject: dots\r\n\r\n.\r\n..x\r\n") {
		t.Fatalf("dot-stuffed message stored as %q", e.raw(msgs[0]))
	}
}

// TestBareCRBeforeEnd: "\r\r\n" right before the final CRLF "." CRLF. (go-smtp's
// DATA reader lost step there and timed the client out; ours sees the end and
// refuses the bare CR.) Either way nothing is delivered.
func TestBareCRBeforeEnd(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX, func(o *Options) { o.Timeout = 300 * time.Millisecond })
	w := e.dial()
	w.ehlo()
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	w.cmd("DATA", 354, "")
	w.write("Subject: crcrlf\r\n\r\nbody\r\r\n.\r\n")
	code, _, err := w.read()
	if err == nil && code != 421 && code != 554 {
		t.Fatalf("reply %d, want 421 or 554 (or a closed connection)", code)
	}
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

// TestPipelining writes whole transactions in one go (RFC 2920) and reads the
// replies afterwards, in order.
func TestPipelining(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	msg := testMsg("s@remote.example", "pipelined")
	w.write("EHLO client.example.net\r\n" +
		"MAIL FROM:<s@remote.example>\r\n" +
		"RCPT TO:<alice@example.org>\r\n" +
		"RCPT TO:<nobody@example.org>\r\n" +
		"RCPT TO:<relay@remote.example>\r\n" +
		"RCPT TO:<bob@example.org>\r\n" +
		"DATA\r\n" + msg + ".\r\n" +
		"MAIL FROM:<s2@remote.example>\r\n" +
		"RCPT TO:<carol@example.org>\r\n" +
		"BDAT " + fmt.Sprint(len(msg)) + " LAST\r\n" + msg +
		"QUIT\r\n")
	w.expect(250, "") // EHLO
	w.expect(250, "2.0.0")
	w.expect(250, "2.0.0")
	w.expect(550, "5.1.1")
	w.expect(554, "5.7.1")
	w.expect(250, "2.0.0")
	w.expect(354, "")
	w.expect(250, "2.0.0")
	w.expect(250, "2.0.0")
	w.expect(250, "2.0.0")
	w.expect(250, "2.0.0") // BDAT LAST
	w.expect(221, "")
	for _, a := range []struct {
		name string
		id   int64
	}{{"alice", e.alice.ID}, {"bob", e.bob.ID}, {"carol", e.carol.ID}} {
		if got := subjects(listInbox(t, e.st, a.id)); !slices.Equal(got, []string{"pipelined"}) {
			t.Errorf("%s has %q", a.name, got)
		}
	}
}

func TestBDAT(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	msg := testMsg("s@remote.example", "chunked") + strings.Repeat("line of the body\r\n", 100)
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<alice@example.org>", 250, "")
	// Chunks split anywhere, even inside a CRLF pair.
	cut1 := strings.Index(msg, "\r\n") + 1
	cut2 := len(msg) / 2
	w.write(fmt.Sprintf("BDAT %d\r\n%s", cut1, msg[:cut1]))
	w.expect(250, "2.0.0")
	w.write(fmt.Sprintf("BDAT %d\r\n%s", cut2-cut1, msg[cut1:cut2]))
	w.expect(250, "2.0.0")
	w.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg)-cut2, msg[cut2:]))
	w.expect(250, "2.0.0")
	// BDAT 0 LAST ends a message whose chunks are all sent (RFC 3030 2).
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<bob@example.org>", 250, "")
	w.write(fmt.Sprintf("BDAT %d\r\n%s", len(msg), msg))
	w.expect(250, "2.0.0")
	w.cmd("BDAT 0 LAST", 250, "2.0.0")
	// RSET in the middle of a chunked message drops it.
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<carol@example.org>", 250, "")
	w.write(fmt.Sprintf("BDAT %d\r\n%s", cut1, msg[:cut1]))
	w.expect(250, "2.0.0")
	w.cmd("RSET", 250, "")
	// BDAT without a transaction is refused, and its chunk is skipped.
	w.write("BDAT 5 LAST\r\nxxxxx")
	w.expect(502, "")
	w.cmd("NOOP", 250, "")

	for _, a := range []struct {
		name string
		id   int64
		want int
	}{{"alice", e.alice.ID, 1}, {"bob", e.bob.ID, 1}, {"carol", e.carol.ID, 0}} {
		msgs := listInbox(t, e.st, a.id)
		if len(msgs) != a.want {
			t.Fatalf("%s has %d messages, want %d", a.name, len(msgs), a.want)
		}
		if a.want == 1 && !strings.HasSuffix(e.raw(msgs[0]), msg) {
			t.Errorf("%s: message not stored intact", a.name)
		}
	}
}

func TestSMTPUTF8(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	ctx := context.Background()
	if err := e.st.AddDomain(ctx, "bücher.example"); err != nil {
		t.Fatal(err)
	}
	jorg, err := e.st.AddAccount(ctx, "jörg@bücher.example", "pw")
	if err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	w.ehlo()
	// Without SMTPUTF8 a non-ASCII address is refused (RFC 6531 3.4).
	w.cmd("MAIL FROM:<用户@例子.广告>", 553, "5.6.7")
	w.cmd("MAIL FROM:<s@remote.example>", 250, "")
	w.cmd("RCPT TO:<jörg@bücher.example>", 553, "5.6.7")
	w.cmd("RSET", 250, "")

	msg := "From: 用户 <用户@例子.广告>\r\nTo: Jörg <jörg@bücher.example>\r\nSubject: Grüße\r\n\r\nHallo Jörg\r\n"
	w.cmd("MAIL FROM:<用户@例子.广告> SMTPUTF8 BODY=8BITMIME", 250, "")
	w.cmd("RCPT TO:<JÖRG@BÜCHER.EXAMPLE>", 250, "")
	w.cmd("RCPT TO:<jörg@xn--bcher-kva.example>", 250, "") // the A-label form: same account
	w.cmd("RCPT TO:<niemand@bücher.example>", 550, "5.1.1")
	w.cmd("DATA", 354, "")
	w.write(msg + ".\r\n")
	w.expect(250, "2.0.0")
	msgs := listInbox(t, e.st, jorg.ID)
	if len(msgs) != 1 {
		t.Fatalf("jörg has %d messages, want 1", len(msgs))
	}
	raw := e.raw(msgs[0])
	if !strings.HasPrefix(raw, "Return-Path: <用户@例子.广告>\r\n") || !strings.Contains(raw, " with UTF8SMTP id ") {
		t.Errorf("stored message starts %q", raw[:min(len(raw), 250)])
	}
	if !strings.HasSuffix(raw, msg) {
		t.Errorf("message not stored intact")
	}
}

// TestReceivedTLS checks the trace field of a message received under STARTTLS
// (RFC 3848 ESMTPS, RFC 8314 4.3 tls clause).
func TestReceivedTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.startTLS(e.clientTLS)
	caps := w.ehlo()
	if strings.Contains(caps, "STARTTLS") {
		t.Errorf("STARTTLS offered again under TLS")
	}
	w.send("s@remote.example", []string{"alice@example.org"}, testMsg("s@remote.example", "over tls"), 250, "2.0.0")
	raw := e.raw(e.inbox(e.alice)[0])
	hdr := raw[:strings.Index(raw, "\r\n\r\n")]
	if !strings.Contains(hdr, " with ESMTPS id ") || !strings.Contains(hdr, "\r\n\ttls TLS_AES_") || !strings.Contains(hdr, "(TLS1.3);") {
		t.Errorf("Received under TLS: %q", hdr)
	}
}

// TestSTARTTLSInjection: commands sent in plaintext after STARTTLS, before the
// handshake, must not be executed inside the TLS session (CVE-2011-0411).
func TestSTARTTLSInjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	w.write("STARTTLS\r\nRSET\r\n")
	w.expect(220, "")
	w.c.SetDeadline(deadline())
	w.startTLSAfterReply(e.clientTLS)
	// The first reply under TLS is the one to our NOOP, not to the injected RSET.
	w.cmd("NOOP", 250, "2.0.0")
	w.cmd("MAIL FROM:<s@remote.example>", 502, "5.5.1") // EHLO needed again after TLS
}
