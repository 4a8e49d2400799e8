package webmail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/message"
	"gannet/internal/store"
)

// stored returns the raw bytes and parse of the only message in a mailbox.
func (e *env) only(acct *store.Account, name string) (store.Message, []byte) {
	e.t.Helper()
	mb := e.mailbox(acct, name)
	msgs, err := e.st.List(context.Background(), acct.ID, mb.ID, nil, store.ListOptions{Parsed: true})
	if err != nil || len(msgs) != 1 {
		e.t.Fatalf("%s of %s: %v, %d messages", name, acct.Address, err, len(msgs))
	}
	rc, err := e.st.Open(context.Background(), msgs[0].BlobID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	raw, _ := io.ReadAll(rc)
	return msgs[0], raw
}

func TestSendToLocalAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	bob := e.account("bob@example.org")
	carol := e.account("carol@example.org")
	c := e.login("alice@example.org")
	var ids []string
	if st := c.json("GET", "/api/identities", nil, &ids); st != 200 || !slices.Equal(ids, []string{"alice@example.org"}) {
		t.Fatalf("identities: %d %v", st, ids)
	}
	st, body := c.form("/api/send", map[string][]string{
		"to":      {"Bob Example <bob@example.org>"},
		"bcc":     {"carol@example.org"},
		"subject": {"Grüße aus Köln"},
		"text":    {"Hello Bob,\nthis line is long enough to need soft line breaks in quoted-printable encoding, really it is.\n€ sign"},
	}, map[string]string{"notes.txt": "attached notes\n"}, nil)
	if st != 200 {
		t.Fatalf("send: %d %s", st, body)
	}
	m, raw := e.only(bob, "INBOX")
	p := m.Parsed
	if p.Subject != "Grüße aus Köln" || len(p.Envelope.From) != 1 || p.Envelope.From[0].Mailbox != "alice" {
		t.Errorf("received subject %q from %+v", p.Subject, p.Envelope.From)
	}
	if bytes.Contains(raw, []byte("carol")) {
		t.Errorf("Bcc leaked into the sent message:\n%s", raw)
	}
	if !strings.HasSuffix(p.Envelope.MessageID, "@mail.example.org>") {
		t.Errorf("Message-ID %q", p.Envelope.MessageID)
	}
	l := analyse(p.Body)
	text, _ := message.DecodeText(raw, l.text)
	if !strings.Contains(text, "really it is.\r\n€ sign") && !strings.Contains(text, "really it is.\n€ sign") {
		t.Errorf("text part: %q", text)
	}
	if len(l.attachments) != 1 || l.attachments[0].Filename() != "notes.txt" {
		t.Fatalf("attachments: %+v", l.attachments)
	}
	if strings.TrimSpace(string(raw[l.attachments[0].BodyStart:l.attachments[0].End])) != "YXR0YWNoZWQgbm90ZXMK" {
		t.Errorf("attachment body %q", raw[l.attachments[0].BodyStart:l.attachments[0].End])
	}
	// Bcc got it too, and the Sent copy keeps the Bcc and is read.
	e.only(carol, "INBOX")
	sent, sentRaw := e.only(alice, "Sent")
	if !bytes.Contains(sentRaw, []byte("Bcc: carol@example.org")) || !slices.Contains(sent.Flags, store.FlagSeen) {
		t.Errorf("Sent copy: flags %v\n%s", sent.Flags, sentRaw)
	}
	if sent.Parsed.Envelope.MessageID != p.Envelope.MessageID {
		t.Errorf("Sent copy has another Message-ID")
	}

	// Bob replies; Alice's message gets \Answered and the thread headers.
	cb := e.login("bob@example.org")
	bobInbox := e.mailbox(bob, "INBOX")
	st, body = cb.form("/api/send", map[string][]string{
		"to": {"alice@example.org"}, "subject": {"Re: Grüße aus Köln"}, "text": {"Thanks"},
		"inReplyTo": {p.Envelope.MessageID}, "references": {"<older@example.net> " + p.Envelope.MessageID + " bogus\r\nX-Injected: 1"},
		"answered": {fmt.Sprintf("%d:%d", bobInbox.ID, m.UID)},
	}, nil, nil)
	if st != 200 {
		t.Fatalf("reply: %d %s", st, body)
	}
	reply, replyRaw := e.only(alice, "INBOX")
	if reply.Parsed.Envelope.InReplyTo != p.Envelope.MessageID || !bytes.Contains(replyRaw, []byte("References: <older@example.net>\r\n "+p.Envelope.MessageID+"\r\n")) {
		t.Errorf("reply headers:\n%s", replyRaw)
	}
	if bytes.Contains(replyRaw, []byte("X-Injected")) {
		t.Errorf("header injection:\n%s", replyRaw)
	}
	orig, _ := e.only(bob, "INBOX")
	if !slices.Contains(orig.Flags, store.FlagAnswered) {
		t.Errorf("original not answered: %v", orig.Flags)
	}
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	c := e.login("alice@example.org")
	for _, tc := range []struct {
		fields map[string][]string
		status int
		text   string
	}{
		{map[string][]string{"to": {"someone@remote.example"}}, 422, "remote delivery unavailable"},
		{map[string][]string{"to": {"nobody@example.org"}}, 422, "no such recipient"},
		{map[string][]string{"to": {"not an address"}}, 400, "invalid address"},
		{map[string][]string{"subject": {"no recipients"}}, 400, "recipient"},
		{map[string][]string{"to": {"alice@example.org"}, "from": {"boss@example.org"}}, 400, "cannot send from"},
	} {
		st, body := c.form("/api/send", tc.fields, nil, nil)
		if st != tc.status || !strings.Contains(string(body), tc.text) {
			t.Errorf("%v: %d %s", tc.fields, st, body)
		}
	}
	if m := e.mailbox(alice, "Sent"); m.Messages != 0 {
		t.Errorf("refused sends were saved to Sent: %d", m.Messages)
	}
	// Not a form at all.
	if st, _, _ := c.do("POST", "/api/send", strings.NewReader("{}"), "application/json"); st != 400 {
		t.Errorf("JSON body: %d", st)
	}
}

func TestDraftsAutosaveAndForward(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	bob := e.account("bob@example.org")
	inbox := e.mailbox(alice, "INBOX")
	orig := e.deliver(alice, richMessage("http://remote.example"))
	c := e.login("alice@example.org")
	// First autosave: forwards the original's PDF and uploads a file.
	var d1 draftJSON
	st, body := c.form("/api/drafts", map[string][]string{
		"to": {"bob@example.org"}, "subject": {"Fwd: Rich message"}, "text": {"v1"},
		"attach": {fmt.Sprintf("%d:%d:2", inbox.ID, orig)},
	}, map[string]string{"a.txt": "file a"}, &d1)
	if st != 200 || len(d1.Attachments) != 2 {
		t.Fatalf("draft 1: %d %s", st, body)
	}
	dm, raw := e.only(alice, "Drafts")
	if !slices.Contains(dm.Flags, store.FlagDraft) || !bytes.Contains(raw, []byte("v1")) {
		t.Errorf("draft 1 stored: %v\n%s", dm.Flags, raw)
	}
	// Second autosave refers to the first draft's attachments and replaces it.
	var refs []string
	for _, a := range d1.Attachments {
		refs = append(refs, fmt.Sprintf("%d:%d:%s", d1.MailboxID, d1.UID, a.Section))
	}
	var d2 draftJSON
	st, body = c.form("/api/drafts", map[string][]string{
		"to": {"bob@example.org"}, "subject": {"Fwd: Rich message"}, "text": {"v2"},
		"attach": refs, "draft": {fmt.Sprint(d1.UID)},
	}, nil, &d2)
	if st != 200 || d2.UID == d1.UID || len(d2.Attachments) != 2 {
		t.Fatalf("draft 2: %d %s", st, body)
	}
	dm, raw = e.only(alice, "Drafts") // exactly one draft left
	if dm.UID != d2.UID || !bytes.Contains(raw, []byte("v2")) {
		t.Errorf("draft 2 stored: uid %d\n%s", dm.UID, raw)
	}
	// Sending from the draft removes it and delivers both attachments.
	refs = refs[:0]
	for _, a := range d2.Attachments {
		refs = append(refs, fmt.Sprintf("%d:%d:%s", d2.MailboxID, d2.UID, a.Section))
	}
	st, body = c.form("/api/send", map[string][]string{
		"to": {"bob@example.org"}, "subject": {"Fwd: Rich message"}, "text": {"final"},
		"attach": refs, "draft": {fmt.Sprint(d2.UID)},
	}, nil, nil)
	if st != 200 {
		t.Fatalf("send: %d %s", st, body)
	}
	if m := e.mailbox(alice, "Drafts"); m.Messages != 0 {
		t.Errorf("draft kept after send: %d", m.Messages)
	}
	got, graw := e.only(bob, "INBOX")
	l := analyse(got.Parsed.Body)
	var names []string
	for _, a := range l.attachments {
		names = append(names, a.Filename())
	}
	if !bytes.Contains(graw, []byte("JVBERi0xLjQgZmFrZSBwZGY=")) || len(names) != 2 {
		t.Errorf("forwarded attachments %v:\n%s", names, graw)
	}
}

func TestBuildMessage(t *testing.T) {
	t.Parallel()
	from := "alice@example.org"
	to, _ := parseAddrs(`"Émile Zola" <emile@example.org>, b@example.org`)
	d := &draft{From: from, To: to, Subject: "Subject\r\nBcc: injected@example.org", Text: "x",
		Attachments: []attachment{{Name: "résumé.pdf", Type: "application/pdf", Data: []byte("PDF")}}}
	raw := d.build("<id@h>", time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), false)
	p := message.Parse(raw)
	if p.Subject != "Subject  Bcc: injected@example.org" || len(p.Envelope.Bcc) != 0 {
		t.Errorf("subject %q bcc %+v:\n%s", p.Subject, p.Envelope.Bcc, raw)
	}
	if len(p.Envelope.To) != 2 || p.Envelope.To[0].Name != "Émile Zola" || p.Envelope.MessageID != "<id@h>" {
		t.Errorf("envelope %+v", p.Envelope)
	}
	l := analyse(p.Body)
	if len(l.attachments) != 1 || l.attachments[0].Filename() != "résumé.pdf" {
		t.Errorf("attachment %+v", l.attachments)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line longer than 998 octets (RFC 5322 2.1.1)")
		}
	}
}
