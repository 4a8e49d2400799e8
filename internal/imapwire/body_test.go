package imapwire

import (
	"strings"
	"testing"
	"time"

	"gannet/internal/message"
)

// rfcEnvelope is the envelope of the FETCH example of RFC 9051 7.5.2.
func rfcEnvelope() *message.Envelope {
	gray := []message.Address{{Name: "Terry Gray", Mailbox: "gray", Host: "cac.washington.edu"}}
	return &message.Envelope{
		Date:    "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
		Subject: "IMAP4rev2 WG mtg summary and minutes",
		From:    gray, Sender: gray, ReplyTo: gray,
		To: []message.Address{{Mailbox: "imap", Host: "cac.washington.edu"}},
		Cc: []message.Address{
			{Mailbox: "minutes", Host: "CNRI.Reston.VA.US"},
			{Name: "John Klensin", Mailbox: "KLENSIN", Host: "MIT.EDU"},
		},
		MessageID: "<B27397-0100000@cac.washington.edu>",
	}
}

// part builds a leaf with a body of size octets.
func part(typ, sub string, size, lines int64) *message.Part {
	return &message.Part{Type: typ, Subtype: sub, BodyStart: 100, End: 100 + size, Lines: lines}
}

// TestFetchExample writes the FETCH response example of RFC 9051 7.5.2.
func TestFetchExample(t *testing.T) {
	t.Parallel()
	body := part("text", "plain", 3028, 92)
	body.Params = map[string]string{"charset": "US-ASCII"}
	body.Encoding = "7bit"
	got := render(false, func(w *Writer) {
		w.Number(12)
		w.Atom("FETCH")
		w.BeginList()
		w.Atom("FLAGS")
		w.Flags([]string{`\Seen`})
		w.Atom("INTERNALDATE")
		w.DateTime(time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("PDT", -7*3600)))
		w.Atom("RFC822.SIZE")
		w.Number(4286)
		w.Atom("ENVELOPE")
		w.Envelope(rfcEnvelope())
		w.Atom("BODY")
		w.BodyStructure(body, false)
		w.EndList()
	})
	want := `12 FETCH (FLAGS (\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" ` +
		`RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" ` +
		`"IMAP4rev2 WG mtg summary and minutes" ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`(("Terry Gray" NIL "gray" "cac.washington.edu")) ` +
		`((NIL NIL "imap" "cac.washington.edu")) ` +
		`((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ` +
		`"<B27397-0100000@cac.washington.edu>") ` +
		`BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// rfcMixed is the multipart/mixed of the BODYSTRUCTURE example of RFC 9051
// 7.5.2, with extension data added.
func rfcMixed() *message.Part {
	a := part("text", "plain", 1152, 23)
	a.Params = map[string]string{"charset": "US-ASCII"}
	a.Encoding = "7bit"
	b := part("text", "plain", 4554, 73)
	b.Params = map[string]string{"charset": "US-ASCII", "name": "cc.diff"}
	b.ID = "<960723163407.20117h@cac.washington.edu>"
	b.Description = "Compiler diff"
	b.Encoding = "base64"
	b.Disposition = "attachment"
	b.DispParams = map[string]string{"filename": "cc.diff"}
	b.Language = []string{"en", "de"}
	b.Location = "http://example.org/cc.diff"
	b.MD5 = "Q2hlY2sgSW50ZWdyaXR5IQ=="
	return &message.Part{
		Type: "multipart", Subtype: "mixed", Params: map[string]string{"boundary": "xyz"},
		End: 6000, Parts: []*message.Part{a, b},
	}
}

func TestBodyStructure(t *testing.T) {
	t.Parallel()
	inner := part("text", "html", 20, 2)
	inner.Params = map[string]string{"charset": "utf-8"}
	inner.Encoding = "quoted-printable"
	embedded := part("message", "rfc822", 500, 12)
	embedded.Envelope = &message.Envelope{
		Subject: "Fwd: \"x\"",
		From:    []message.Address{{Name: "Ann", Mailbox: "ann", Host: "example.org"}},
		To: []message.Address{
			{Mailbox: "undisclosed-recipients"}, {}, // an empty group
		},
	}
	embedded.Parts = []*message.Part{inner}
	alt := &message.Part{Type: "multipart", Subtype: "alternative", Parts: []*message.Part{
		part("text", "plain", 10, 1), embedded,
	}}
	tests := []struct {
		name     string
		p        *message.Part
		extended bool
		want     string
	}{
		{"RFC 9051 7.5.2 example", rfcMixed(), false,
			`(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)` +
				`("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" ` +
				`"Compiler diff" "BASE64" 4554 73) "MIXED")`},
		{"RFC 9051 7.5.2 example extended", rfcMixed(), true,
			`(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)` +
				`("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" ` +
				`"Compiler diff" "BASE64" 4554 73 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("ATTACHMENT" ("FILENAME" "cc.diff")) ` +
				`("en" "de") "http://example.org/cc.diff") "MIXED" ("BOUNDARY" "xyz") NIL NIL NIL)`},
		{"basic", part("image", "png", 7, 0), true, `("IMAGE" "PNG" NIL NIL NIL "7BIT" 7 NIL NIL NIL NIL)`},
		{"message/rfc822", alt, false,
			`(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 500 ` +
				`(NIL "Fwd: \"x\"" (("Ann" NIL "ann" "example.org")) NIL NIL ` +
				`((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL) ` +
				`("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 20 2) 12) "ALTERNATIVE")`},
		{"message/rfc822 extended", alt, true,
			`(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 500 ` +
				`(NIL "Fwd: \"x\"" (("Ann" NIL "ann" "example.org")) NIL NIL ` +
				`((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL) ` +
				`("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 20 2 NIL NIL NIL NIL) 12 NIL NIL NIL NIL) ` +
				`"ALTERNATIVE" NIL NIL NIL NIL)`},
		{"message/rfc822 without envelope", part("message", "rfc822", 5, 1), false,
			`("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" 5)`},
		{"multipart without parts", part("multipart", "mixed", 5, 1), false,
			`("TEXT" "PLAIN" NIL NIL NIL "7BIT" 5 1)`},
		{"empty type", part("", "", 0, 0), false, `("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)`},
		{"negative size", &message.Part{Type: "text", Subtype: "plain", BodyStart: 9, End: 3, Lines: -1}, false,
			`("TEXT" "PLAIN" NIL NIL NIL "7BIT" 0 0)`},
		{"odd strings", &message.Part{Type: "application", Subtype: "x\"y", Params: map[string]string{"na\\me": "a\r\nb", "e": ""}}, false,
			`("APPLICATION" "X\"Y" ("E" "" "NA\\ME" {4}` + "\r\na\r\nb" + `) NIL NIL "7BIT" 0)`},
	}
	for _, tt := range tests {
		got := render(false, func(w *Writer) { w.BodyStructure(tt.p, tt.extended) })
		if got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// TestBodyStructureParses reads the BODYSTRUCTURE output back with the
// Parser, checking that it is one well-formed value with its literal. The
// Parser wants list items separated by spaces, which 1*body and 1*address
// are not: a space is put between ")(" first (no string here has one).
func TestBodyStructureParses(t *testing.T) {
	t.Parallel()
	for _, utf8 := range []bool{false, true} {
		p := rfcMixed()
		p.Parts[0].Description = "naïve\r\n"
		out := render(utf8, func(w *Writer) { w.BodyStructure(p, true) })
		r, _ := newReader("a X "+strings.ReplaceAll(out, ")(", ") (")+"\r\n", Options{UTF8: utf8})
		cmd, err := r.ReadCommand()
		if err == nil {
			_, err = cmd.Args.walk()
		}
		if err != nil || !strings.Contains(out, "{8}\r\nnaïve\r\n") {
			t.Errorf("utf8 %v: %q: %v", utf8, out, err)
		}
	}
}
