package imapserver_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"gannet/internal/store/storetest"
)

// mimeMsg is a three-part message: text, a base64 binary with a NUL, and an
// embedded message/rfc822.
var mimeMsg = storetest.Msg{
	Subject:     "Parts",
	ContentType: `multipart/mixed; boundary="b1"`,
	Body: "preamble\n--b1\nContent-Type: text/plain; charset=utf-8\n\nHello world\n" +
		"--b1\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n" +
		"--b1\nContent-Type: message/rfc822\n\nSubject: inner\nFrom: x@example.net\n\ninner body\n--b1--\n",
}

// literalPrefix matches what wire.until removes when it inlines a literal.
var literalPrefix = regexp.MustCompile(`~?\{[0-9]+\+?\}\r\n`)

func TestFetchSections(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raw := string(mimeMsg.Bytes())
	e.deliver("INBOX", mimeMsg)
	w := e.login()
	w.cmd("a SELECT INBOX")
	hdrEnd := strings.Index(raw, "\r\n\r\n") + 4
	tests := []struct{ item, want string }{
		{"BODY.PEEK[]", "BODY[] {" + itoa(len(raw)) + "}\r\n" + raw},
		{"BODY.PEEK[HEADER]", "BODY[HEADER] {" + itoa(hdrEnd) + "}\r\n" + raw[:hdrEnd]},
		{"BODY.PEEK[TEXT]<0.8>", "BODY[TEXT]<0> {8}\r\npreamble"},
		{"BODY.PEEK[]<5.10>", "BODY[]<5> {10}\r\n" + raw[5:15]},
		{"BODY.PEEK[]<99999.10>", `BODY[]<99999> ""`},
		{"BODY.PEEK[1]", "BODY[1] {11}\r\nHello world"},
		{"BODY.PEEK[1.MIME]", "BODY[1.MIME] {43}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"},
		{"BODY.PEEK[3.HEADER]", "BODY[3.HEADER] {44}\r\nSubject: inner\r\nFrom: x@example.net\r\n\r\n"},
		{"BODY.PEEK[3.TEXT]", "BODY[3.TEXT] {10}\r\ninner body"},
		{"BODY.PEEK[3.1]", "BODY[3.1] {10}\r\ninner body"},
		{"BODY.PEEK[9]", "BODY[9] NIL"},
		{"BODY.PEEK[HEADER.FIELDS (subject to)]", "BODY[HEADER.FIELDS (subject to)] {43}\r\nTo: rcpt@example.org\r\nSubject: Parts\r\n\r\n"},
		{"BODY.PEEK[3.HEADER.FIELDS.NOT (SUBJECT)]", "BODY[3.HEADER.FIELDS.NOT (SUBJECT)] {26}\r\nFrom: x@example.net\r\n\r\n"},
		{"BINARY.PEEK[2]", "BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04"},
		{"BINARY.SIZE[2]", "BINARY.SIZE[2] 5"},
		{"BINARY.SIZE[1]", "BINARY.SIZE[1] 11"},
		{"RFC822.HEADER", "RFC822.HEADER {" + itoa(hdrEnd) + "}\r\n" + raw[:hdrEnd]},
		{"RFC822.SIZE", "RFC822.SIZE " + itoa(len(raw))},
	}
	for i, tc := range tests {
		tag := "f" + itoa(i)
		w.send(tag + " FETCH 1 (" + tc.item + ")")
		lines, done := w.until(tag)
		want := literalPrefix.ReplaceAllString("* 1 FETCH ("+tc.want+")", "")
		if !strings.HasPrefix(done, tag+" OK") || len(lines) != 1 || lines[0] != want {
			t.Errorf("FETCH %s:\n got %q %q\nwant %q", tc.item, lines, done, want)
		}
	}
	// Nothing so far set \Seen; BODY[TEXT] does, and says so (RFC 9051 6.4.5).
	w.send("s FETCH 1 BODY[1]")
	lines, _ := w.until("s")
	if len(lines) != 1 || lines[0] != `* 1 FETCH (BODY[1] Hello world FLAGS (\Seen))` {
		t.Errorf("FETCH BODY[1]: %q", lines)
	}
	w.send("t FETCH 1 RFC822.TEXT")
	lines, _ = w.until("t")
	if len(lines) != 1 || strings.Contains(lines[0], "FLAGS") {
		t.Errorf("second non-PEEK fetch reported FLAGS again: %q", lines)
	}
	if done, _ := w.status("u FETCH 1 (BODY[1.2.3.X])"); !strings.HasPrefix(done, "u BAD") {
		t.Errorf("bad section: %q", done)
	}
	if done, _ := w.status("v FETCH 2 FLAGS"); !strings.HasPrefix(done, "v BAD") {
		t.Errorf("sequence number out of range: %q", done)
	}
	if done, _ := w.status("w FETCH 1 (BINARY[1.MIME])"); !strings.HasPrefix(done, "w BAD") {
		t.Errorf("BINARY with a specifier: %q", done)
	}
}

func TestFetchImapclient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", mimeMsg, storetest.Msg{Subject: "Plain", From: "Bob <bob@example.net>", Body: "hi\n"})
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{
		UID: true, Flags: true, Envelope: true, InternalDate: true, RFC822Size: true,
		BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
		BodySection:   []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages", len(msgs))
	}
	if msgs[0].Envelope.Subject != "Parts" || msgs[1].Envelope.From[0].Addr() != "bob@example.net" {
		t.Errorf("envelopes: %+v %+v", msgs[0].Envelope, msgs[1].Envelope)
	}
	mp, ok := msgs[0].BodyStructure.(*imap.BodyStructureMultiPart)
	if !ok || len(mp.Children) != 3 || !strings.EqualFold(mp.Subtype, "mixed") {
		t.Fatalf("BODYSTRUCTURE: %#v", msgs[0].BodyStructure)
	}
	if sp, ok := mp.Children[2].(*imap.BodyStructureSinglePart); !ok || sp.MessageRFC822 == nil || sp.MessageRFC822.Envelope.Subject != "inner" {
		t.Errorf("embedded message: %#v", mp.Children[2])
	}
	body := msgs[1].FindBodySection(&imap.FetchItemBodySection{Peek: true})
	if string(body) != string((storetest.Msg{Subject: "Plain", From: "Bob <bob@example.net>", Body: "hi\n"}).Bytes()) {
		t.Errorf("BODY[] = %q", body)
	}
	if msgs[0].UID == 0 || msgs[1].RFC822Size == 0 || msgs[0].InternalDate.IsZero() {
		t.Errorf("UID/size/date: %+v", msgs[0])
	}
	// UID FETCH returns UID even when not asked (RFC 9051 6.4.9).
	uidMsgs, err := c.Fetch(imap.UIDSetNum(msgs[1].UID), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(uidMsgs) != 1 || uidMsgs[0].UID != msgs[1].UID {
		t.Errorf("UID FETCH: %v %+v", err, uidMsgs)
	}
}

func TestFetchCondstore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"})
	w := e.login()
	lines := w.cmd("a SELECT INBOX (CONDSTORE)")
	var hms string
	for _, l := range lines {
		if strings.HasPrefix(l, "* OK [HIGHESTMODSEQ ") {
			hms = strings.Fields(l)[3]
			hms = strings.TrimSuffix(hms, "]")
		}
	}
	lines = w.cmd(`b STORE 2 +FLAGS (\Flagged)`)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `* 2 FETCH (UID `+uitoa(uids[1])+` FLAGS (\Flagged) MODSEQ (`) {
		t.Fatalf("STORE under CONDSTORE: %q", lines)
	}
	lines = w.cmd("c FETCH 1:* (FLAGS) (CHANGEDSINCE " + hms + ")")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], `* 2 FETCH (FLAGS (\Flagged) MODSEQ (`) {
		t.Errorf("CHANGEDSINCE: %q", lines)
	}
	lines = w.cmd("d UID FETCH 1:* (MODSEQ)")
	if len(lines) != 3 || !strings.Contains(lines[0], "MODSEQ (") || !strings.Contains(lines[0], "UID ") {
		t.Errorf("UID FETCH MODSEQ: %q", lines)
	}
	if done, _ := w.status("e UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)"); !strings.HasPrefix(done, "e BAD") {
		t.Errorf("VANISHED without QRESYNC: %q", done)
	}
}
