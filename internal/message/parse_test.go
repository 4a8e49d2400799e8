package message

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// nested is a real-world-shaped message: multipart/mixed holding a
// multipart/alternative (QP ISO-8859-1 text + HTML), a forwarded
// message/rfc822 and a base64 attachment with an RFC 2231 name.
const nested = `Return-Path: <alice@example.com>
Received: from mx.example.com (mx.example.com [192.0.2.1])
	by mail.example.org with ESMTPS; Tue, 1 Jul 2003 10:52:40 +0200
From: "Alice Example" <alice@example.com>
To: Bob <bob@example.org>, undisclosed-recipients:;
Cc: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>
Subject: =?UTF-8?B?SGVsbG8gd29ybGQg4pyT?=
Date: Tue, 1 Jul 2003 10:52:37 +0200
Message-ID: <1234@local.machine.example>
In-Reply-To: <0001@x.example>
MIME-Version: 1.0
Content-Type: multipart/mixed;
	boundary="outer"

This is a preamble.
--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Caf=E9 au   lait=
 please
--inner
Content-Type: text/html; charset=utf-8

<p>Caf&eacute; au lait</p>
--inner--
--outer
Content-Type: message/rfc822
Content-Disposition: Attachment; filename="fwd.eml"
Content-Description: forwarded

From: Carol <carol@example.net>
Subject: inner
Content-Type: text/plain

Inner body
line 2
--outer
Content-Type: application/pdf; name*0*=utf-8''r%C3%A9; name*1=sum.pdf
Content-Transfer-Encoding: base64
Content-ID: <pdf@x>
Content-Language: en, fr

JVBERi0=
--outer--
epilogue
`

// partWant describes one part: section path, type, and its exact body bytes.
type partWant struct {
	path     []int
	typ      string
	body     string
	header   string // header including the blank line, when checked
	lines    int64
	encoding string
}

func nestedWant() []partWant {
	return []partWant{
		{path: []int{1}, typ: "multipart/alternative",
			header: "Content-Type: multipart/alternative; boundary=inner\n\n",
			body: "--inner\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n" +
				"Caf=E9 au   lait=\n please\n--inner\nContent-Type: text/html; charset=utf-8\n\n<p>Caf&eacute; au lait</p>\n--inner--"},
		{path: []int{1, 1}, typ: "text/plain", body: "Caf=E9 au   lait=\n please", lines: 2, encoding: "quoted-printable",
			header: "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"},
		{path: []int{1, 2}, typ: "text/html", body: "<p>Caf&eacute; au lait</p>", lines: 1},
		{path: []int{2}, typ: "message/rfc822", lines: 6,
			body: "From: Carol <carol@example.net>\nSubject: inner\nContent-Type: text/plain\n\nInner body\nline 2"},
		{path: []int{2, 1}, typ: "text/plain", body: "Inner body\nline 2", lines: 2,
			header: "From: Carol <carol@example.net>\nSubject: inner\nContent-Type: text/plain\n\n"},
		{path: []int{3}, typ: "application/pdf", body: "JVBERi0=", encoding: "base64"},
	}
}

func TestParseNestedOffsets(t *testing.T) {
	t.Parallel()
	for _, eol := range []string{"\r\n", "\n"} {
		raw := []byte(strings.ReplaceAll(nested, "\n", eol))
		p := Parse(raw)
		checkInvariants(t, raw, p)
		name := map[string]string{"\r\n": "CRLF", "\n": "LF"}[eol]

		root := p.Body
		if got := root.Type + "/" + root.Subtype; got != "multipart/mixed" || len(root.Parts) != 3 {
			t.Fatalf("%s: root %s with %d parts", name, got, len(root.Parts))
		}
		wantRootBody := strings.ReplaceAll(nested[strings.Index(nested, "This is a preamble"):], "\n", eol)
		if got := string(raw[root.BodyStart:root.End]); got != wantRootBody {
			t.Errorf("%s: root body %q", name, got)
		}
		for _, w := range nestedWant() {
			q := root.Section(w.path)
			if q == nil {
				t.Fatalf("%s: section %v missing", name, w.path)
			}
			if got := q.Type + "/" + q.Subtype; got != w.typ {
				t.Errorf("%s %v: type %s, want %s", name, w.path, got, w.typ)
			}
			want := strings.ReplaceAll(w.body, "\n", eol)
			if got := string(raw[q.BodyStart:q.End]); got != want {
				t.Errorf("%s %v: body\n%q\nwant\n%q", name, w.path, got, want)
			}
			if w.header != "" {
				want := strings.ReplaceAll(w.header, "\n", eol)
				if got := string(raw[q.HeaderStart:q.BodyStart]); got != want {
					t.Errorf("%s %v: header\n%q\nwant\n%q", name, w.path, got, want)
				}
			}
			if q.Lines != w.lines || q.Encoding != w.encoding {
				t.Errorf("%s %v: lines %d encoding %q, want %d %q", name, w.path, q.Lines, q.Encoding, w.lines, w.encoding)
			}
		}

		att := root.Parts[2]
		if att.Params["name"] != "résum.pdf" || att.ID != "<pdf@x>" ||
			!reflect.DeepEqual(att.Language, []string{"en", "fr"}) || att.Filename() != "résum.pdf" {
			t.Errorf("%s: attachment %+v", name, att)
		}
		fwd := root.Parts[1]
		if fwd.Disposition != "attachment" || fwd.DispParams["filename"] != "fwd.eml" || fwd.Description != "forwarded" {
			t.Errorf("%s: forwarded %+v", name, fwd)
		}
		if fwd.Envelope == nil || fwd.Envelope.Subject != "inner" ||
			!reflect.DeepEqual(fwd.Envelope.From, []Address{{Name: "Carol", Mailbox: "carol", Host: "example.net"}}) ||
			!reflect.DeepEqual(fwd.Envelope.Sender, fwd.Envelope.From) {
			t.Errorf("%s: embedded envelope %+v", name, fwd.Envelope)
		}
		if m := fwd.Message(); m == nil || m.HeaderStart != fwd.BodyStart {
			t.Errorf("%s: Message() %+v", name, m)
		}

		e := p.Envelope
		wantEnv := Envelope{
			Date:    "Tue, 1 Jul 2003 10:52:37 +0200",
			Subject: "=?UTF-8?B?SGVsbG8gd29ybGQg4pyT?=",
			From:    []Address{{Name: "Alice Example", Mailbox: "alice", Host: "example.com"}},
			To: []Address{{Name: "Bob", Mailbox: "bob", Host: "example.org"},
				{Mailbox: "undisclosed-recipients"}, {}},
			Cc:        []Address{{Name: "André Pirard", Mailbox: "PIRARD", Host: "vm1.ulg.ac.be"}},
			InReplyTo: "<0001@x.example>",
			MessageID: "<1234@local.machine.example>",
		}
		wantEnv.Sender, wantEnv.ReplyTo = wantEnv.From, wantEnv.From
		if !reflect.DeepEqual(e, wantEnv) {
			t.Errorf("%s: envelope\n%+v\nwant\n%+v", name, e, wantEnv)
		}
		if p.Subject != "Hello world ✓" {
			t.Errorf("%s: subject %q", name, p.Subject)
		}
		if want := time.Date(2003, 7, 1, 8, 52, 37, 0, time.UTC); !p.Date.Equal(want) {
			t.Errorf("%s: date %v", name, p.Date)
		}
		if p.Preview != "Café au lait please" {
			t.Errorf("%s: preview %q", name, p.Preview)
		}
		if s, err := DecodeText(raw, root.Section([]int{1, 1})); err != nil || s != "Café au   lait please" {
			t.Errorf("%s: DecodeText %q %v", name, s, err)
		}
	}
}

func TestSection(t *testing.T) {
	t.Parallel()
	p := Parse([]byte(strings.ReplaceAll(nested, "\n", "\r\n"))).Body
	for _, tc := range []struct {
		path []int
		want *Part
	}{
		{nil, p},
		{[]int{1}, p.Parts[0]},
		{[]int{1, 2}, p.Parts[0].Parts[1]},
		{[]int{2}, p.Parts[1]},
		{[]int{2, 1}, p.Parts[1].Parts[0]}, // single-part embedded message: part 1 is its body
		{[]int{2, 1, 1}, nil},
		{[]int{2, 2}, nil},
		{[]int{3}, p.Parts[2]},
		{[]int{3, 1}, nil},
		{[]int{4}, nil},
		{[]int{0}, nil},
		{[]int{-1}, nil},
		{[]int{1, 3}, nil},
	} {
		if got := p.Section(tc.path); got != tc.want {
			t.Errorf("Section(%v) = %p, want %p", tc.path, got, tc.want)
		}
	}

	single := Parse([]byte("Subject: x\r\n\r\nhello\r\n")).Body
	if single.Section([]int{1}) != single || single.Section([]int{2}) != nil || single.Section([]int{1, 1}) != nil {
		t.Error("single-part sections wrong")
	}

	// message/rfc822 at the top, holding a multipart: 1 is the root, 1.2 the
	// second part of the embedded multipart.
	raw := "Content-Type: message/rfc822\n\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n"
	top := Parse([]byte(raw)).Body
	if got := top.Section([]int{1}); got != top {
		t.Errorf("1 = %+v", got)
	}
	got := top.Section([]int{1, 2})
	if got == nil || string(raw[got.BodyStart:got.End]) != "two" {
		t.Errorf("1.2 = %+v", got)
	}
}

func TestParseStructure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		typ       string            // root type/subtype
		params    map[string]string // root params, when non-nil
		bodies    []string          // raw bodies of the root's children
	}{
		{"no content-type", "Subject: x\n\nbody", "text/plain", map[string]string{"charset": "us-ascii"}, nil},
		{"invalid content-type", "Content-Type: text\n\nbody", "text/plain", map[string]string{"charset": "us-ascii"}, nil},
		{"upper case, quoted", "Content-Type: TEXT/HTML; CHARSET=\"UTF-8\"\n\n<b>x</b>", "text/html", map[string]string{"charset": "UTF-8"}, nil},
		{"rfc 2231 encoded", "Content-Type: application/x-stuff;\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A\n\n",
			"application/x-stuff", map[string]string{"title": "This is ***fun***"}, nil},
		{"rfc 2231 continuation", "Content-Type: message/external-body; access-type=URL;\n URL*0=\"ftp://\";\n URL*1=\"cs.utk.edu/pub\"\n\n",
			"message/external-body", map[string]string{"access-type": "URL", "url": "ftp://cs.utk.edu/pub"}, nil},
		{"rfc 2231 latin1", "Content-Type: text/plain; name*=iso-8859-1''caf%E9.txt\n\n", "text/plain", map[string]string{"name": "café.txt"}, nil},
		{"unquoted spaces, comment", "Content-Type: text/plain (plain text); name=my file.pdf; charset=utf-8 (yes)\n\n",
			"text/plain", map[string]string{"name": "my file.pdf", "charset": "utf-8"}, nil},
		{"multipart without boundary", "Content-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n", "text/plain", nil, nil},
		{"boundary never used", "Content-Type: multipart/mixed; boundary=b\n\njust text\n", "text/plain", nil, nil},
		{"close delimiter only", "Content-Type: multipart/mixed; boundary=b\n\n--b--\n", "text/plain", nil, nil},
		{"empty part", "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b--\r\n", "multipart/mixed", nil, []string{""}},
		{"no preamble, padding", "Content-Type: multipart/mixed; boundary=b\n\n--b  \n\none\n--b\t\n\ntwo\n--b-- \n", "multipart/mixed", nil, []string{"one", "two"}},
		{"never closed", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n", "multipart/mixed", nil, []string{"one", "two\n"}},
		{"boundary prefix is body text", "Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--bx\n--b-x\n--b\n\ntwo\n--b--",
			"multipart/mixed", nil, []string{"--bx\n--b-x", "two"}},
		{"part without blank line", "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b--", "multipart/mixed", nil, []string{""}},
		{"digest default", "Content-Type: multipart/digest; boundary=b\n\n--b\n\nSubject: one\n\nbody\n--b--", "multipart/digest", nil, []string{"Subject: one\n\nbody"}},
		{"bare CR is not a line end", "Subject: x\rContent-Type: text/html\r\rbody", "text/plain", map[string]string{"charset": "us-ascii"}, nil},
		{"quoted boundary with trailing space", "Content-Type: multipart/mixed; boundary=\"b \"\n\n--b\n\none\n--b--", "multipart/mixed", nil, []string{"one"}},
	} {
		raw := []byte(tc.raw)
		p := Parse(raw)
		checkInvariants(t, raw, p)
		if got := p.Body.Type + "/" + p.Body.Subtype; got != tc.typ {
			t.Errorf("%s: type %s, want %s", tc.name, got, tc.typ)
		}
		if tc.params != nil && !reflect.DeepEqual(p.Body.Params, tc.params) {
			t.Errorf("%s: params %q, want %q", tc.name, p.Body.Params, tc.params)
		}
		var bodies []string
		for _, c := range p.Body.Parts {
			bodies = append(bodies, string(raw[c.BodyStart:c.End]))
		}
		if !reflect.DeepEqual(bodies, tc.bodies) {
			t.Errorf("%s: bodies %q, want %q", tc.name, bodies, tc.bodies)
		}
	}
}

func TestDigestAndEncodedMessage(t *testing.T) {
	t.Parallel()
	p := Parse([]byte("Content-Type: multipart/digest; boundary=b\n\n--b\n\nSubject: one\n\nbody\n--b--")).Body
	if c := p.Parts[0]; !c.IsMessage() || c.Envelope.Subject != "one" {
		t.Errorf("digest child %+v", c)
	}
	// RFC 2046 5.2.1: an encoded message/rfc822 cannot be served by offsets.
	q := Parse([]byte("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQp4\n")).Body
	if q.Type != "application" || q.Subtype != "octet-stream" || len(q.Parts) != 0 {
		t.Errorf("encoded message/rfc822 = %+v", q)
	}
}

// TestNestedUnclosedInner: an inner multipart that is never closed ends at
// the outer delimiter.
func TestNestedUnclosedInner(t *testing.T) {
	t.Parallel()
	raw := "Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\nin1\n--i\n\nin2\n--o\n\nout2\n--o--\n"
	p := Parse([]byte(raw))
	checkInvariants(t, []byte(raw), p)
	b := p.Body
	if len(b.Parts) != 2 || len(b.Parts[0].Parts) != 2 {
		t.Fatalf("structure %+v", b)
	}
	if got := raw[b.Parts[0].Parts[1].BodyStart:b.Parts[0].Parts[1].End]; got != "in2" {
		t.Errorf("in2 body %q", got)
	}
	if got := raw[b.Parts[1].BodyStart:b.Parts[1].End]; got != "out2" {
		t.Errorf("out2 body %q", got)
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	raw := []byte("From mbox line\r\nSubject: hello\r\n  world\r\nX-Empty:\r\nTo : a@b\r\n\r\nBody: not a field\r\n")
	p := Parse(raw)
	got := p.Body.HeaderFields(raw)
	want := []Field{
		{Name: "From mbox line", Value: "", Start: 0, End: 16},
		{Name: "Subject", Value: "hello  world", Start: 16, End: 41},
		{Name: "X-Empty", Value: "", Start: 41, End: 51},
		{Name: "To", Value: "a@b", Start: 51, End: 61},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Header =\n%+v\nwant\n%+v", got, want)
	}
	for _, f := range got {
		if !strings.HasPrefix(string(raw[f.Start:f.End]), f.Name) || !strings.HasSuffix(string(raw[f.Start:f.End]), "\r\n") {
			t.Errorf("field bytes %q", raw[f.Start:f.End])
		}
	}
	if Header(raw, -5, 1<<40) == nil || Header(raw, 50, 10) != nil {
		t.Error("Header does not clamp")
	}
	if p.Envelope.To[0].Mailbox != "a" {
		t.Errorf("To with space before colon: %+v", p.Envelope.To)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	raw := []byte(strings.ReplaceAll(nested, "\n", "\r\n"))
	p := Parse(raw)
	b := p.Marshal()
	q, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !equalParsed(p, q) {
		t.Fatalf("round trip differs")
	}
	if strings.Contains(string(b), `\u003c`) {
		t.Error("HTML escaping bloats addresses")
	}
	if _, err := Unmarshal([]byte("{}")); err == nil {
		t.Error("Unmarshal accepted a record without a body")
	}
	if _, err := Unmarshal([]byte("{")); err == nil {
		t.Error("Unmarshal accepted bad JSON")
	}
	// A Date JSON cannot hold is dropped rather than failing.
	p.Date = time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)
	if q, err := Unmarshal(p.Marshal()); err != nil || !q.Date.IsZero() {
		t.Errorf("out-of-range date: %v %v", q, err)
	}
}
