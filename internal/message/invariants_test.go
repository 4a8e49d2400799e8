package message

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// checkInvariants asserts everything the package comment promises about
// Parse(raw), plus the Marshal/Unmarshal round trip and that the helpers
// accept every part. It is shared by the table tests and FuzzParse.
func checkInvariants(t testing.TB, raw []byte, p *Parsed) {
	t.Helper()
	if p == nil || p.Body == nil {
		t.Fatal("Parse returned nil or a nil Body")
	}
	n := int64(len(raw))
	if p.Body.HeaderStart != 0 || p.Body.End != n {
		t.Fatalf("root covers [%d,%d), want [0,%d)", p.Body.HeaderStart, p.Body.End, n)
	}
	checkEnvelope(t, &p.Envelope)
	for _, s := range []string{p.Subject, p.Preview} {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 %q", s)
		}
	}
	if c := utf8.RuneCountInString(p.Preview); c > PreviewRunes {
		t.Fatalf("preview has %d runes", c)
	}
	if p.Preview != strings.TrimSpace(p.Preview) {
		t.Fatalf("preview not trimmed: %q", p.Preview)
	}
	count := 0
	var walk func(q *Part, depth int)
	walk = func(q *Part, depth int) {
		count++
		if depth > MaxDepth {
			t.Fatalf("depth %d > MaxDepth", depth)
		}
		if !(0 <= q.HeaderStart && q.HeaderStart <= q.BodyStart && q.BodyStart <= q.End && q.End <= n) {
			t.Fatalf("bad offsets hs=%d bs=%d e=%d len=%d", q.HeaderStart, q.BodyStart, q.End, n)
		}
		if !isToken(q.Type) || !isToken(q.Subtype) || q.Type != strings.ToLower(q.Type) || q.Subtype != strings.ToLower(q.Subtype) {
			t.Fatalf("bad type %q/%q", q.Type, q.Subtype)
		}
		switch {
		case q.Type == "multipart":
			if len(q.Parts) == 0 {
				t.Fatal("multipart without parts")
			}
		case q.IsMessageType():
			if !q.IsMessage() {
				t.Fatal("message/rfc822 without embedded message")
			}
			c := q.Parts[0]
			if c.HeaderStart != q.BodyStart || c.End != q.End {
				t.Fatalf("embedded message [%d,%d) != body [%d,%d)", c.HeaderStart, c.End, q.BodyStart, q.End)
			}
			checkEnvelope(t, q.Envelope)
		default:
			if len(q.Parts) != 0 || q.Envelope != nil {
				t.Fatalf("%s/%s leaf has %d parts", q.Type, q.Subtype, len(q.Parts))
			}
		}
		if q.Type == "text" || q.IsMessageType() {
			if want := countLines(raw[q.BodyStart:q.End]); q.Lines != want {
				t.Fatalf("lines %d, want %d", q.Lines, want)
			}
		}
		prev := q.BodyStart
		for _, c := range q.Parts {
			if c.HeaderStart < prev || c.End > q.End {
				t.Fatalf("child [%d,%d) outside parent body [%d,%d) or overlapping (prev end %d)",
					c.HeaderStart, c.End, q.BodyStart, q.End, prev)
			}
			prev = c.End
		}
		strs := []string{q.ID, q.Description, q.Encoding, q.Disposition, q.Location, q.MD5}
		strs = append(strs, q.Language...)
		for k, v := range q.Params {
			strs = append(strs, k, v)
			if k != strings.ToLower(k) {
				t.Fatalf("param key %q not lower-case", k)
			}
		}
		for k, v := range q.DispParams {
			strs = append(strs, k, v)
			if k != strings.ToLower(k) {
				t.Fatalf("disposition param key %q not lower-case", k)
			}
		}
		for _, s := range strs {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if q.Type == "text" {
			if s, _ := DecodeText(raw, q); !utf8.ValidString(s) {
				t.Fatal("DecodeText returned invalid UTF-8")
			}
		}
		_ = q.Filename()
		for _, f := range q.HeaderFields(raw) {
			if f.Start < q.HeaderStart || f.End > q.BodyStart || f.Start >= f.End {
				t.Fatalf("field [%d,%d) outside header [%d,%d)", f.Start, f.End, q.HeaderStart, q.BodyStart)
			}
		}
		for _, c := range q.Parts {
			walk(c, depth+1)
		}
	}
	walk(p.Body, 0)
	if count > MaxParts {
		t.Fatalf("%d parts > MaxParts", count)
	}
	checkRoundTrip(t, p)
}

func checkEnvelope(t testing.TB, e *Envelope) {
	t.Helper()
	strs := []string{e.Date, e.Subject, e.InReplyTo, e.MessageID}
	for _, l := range [][]Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		for _, a := range l {
			strs = append(strs, a.Name, a.Mailbox, a.Host)
			if a.Host == "" && a.Name != "" {
				t.Fatalf("group marker with a name: %+v", a)
			}
		}
	}
	for _, s := range strs {
		if !utf8.ValidString(s) {
			t.Fatalf("invalid UTF-8 in envelope %q", s)
		}
	}
	if len(e.From) > 0 && (len(e.Sender) == 0 || len(e.ReplyTo) == 0) {
		t.Fatal("Sender/Reply-To not defaulted to From")
	}
}

// checkRoundTrip asserts Unmarshal(Marshal(p)) equals p (Date compared as an
// instant with its offset) and that Marshal is deterministic.
func checkRoundTrip(t testing.TB, p *Parsed) {
	t.Helper()
	b := p.Marshal()
	q, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal()): %v\n%s", err, b)
	}
	if !equalParsed(p, q) {
		t.Fatalf("round trip differs:\n%+v\n%+v\n%s", p, q, b)
	}
	if b2 := q.Marshal(); !bytes.Equal(b, b2) {
		t.Fatalf("Marshal not stable:\n%s\n%s", b, b2)
	}
}

func equalParsed(a, b *Parsed) bool {
	if !sameTime(a.Date, b.Date) {
		return false
	}
	a2, b2 := *a, *b
	a2.Date, b2.Date = time.Time{}, time.Time{}
	return reflect.DeepEqual(&a2, &b2)
}

func sameTime(a, b time.Time) bool {
	_, ao := a.Zone()
	_, bo := b.Zone()
	return a.Equal(b) && ao == bo
}
