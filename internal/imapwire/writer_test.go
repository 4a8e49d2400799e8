package imapwire

import (
	"bufio"
	"errors"
	"strings"
	"testing"
	"time"
)

func newWriter() (*Writer, *strings.Builder) {
	var sb strings.Builder
	return NewWriter(bufio.NewWriter(&sb)), &sb
}

// render runs fn on a fresh Writer inside an untagged line and returns what
// was written after "* " and before CRLF.
func render(utf8 bool, fn func(w *Writer)) string {
	w, sb := newWriter()
	w.SetUTF8(utf8)
	w.Untagged()
	fn(w)
	w.CRLF()
	w.Flush()
	return strings.TrimSuffix(strings.TrimPrefix(sb.String(), "* "), "\r\n")
}

func TestWriterStrings(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", maxQuoted+1)
	tests := []struct {
		name string
		utf8 bool
		fn   func(w *Writer)
		want string
	}{
		{"quoted", false, func(w *Writer) { w.String("abc") }, `"abc"`},
		{"empty", false, func(w *Writer) { w.String("") }, `""`},
		{"escapes", false, func(w *Writer) { w.String(`a"b\c`) }, `"a\"b\\c"`},
		{"CRLF", false, func(w *Writer) { w.String("a\r\nb") }, "{4}\r\na\r\nb"},
		{"8-bit", false, func(w *Writer) { w.String("café") }, "{5}\r\ncafé"},
		{"UTF-8", true, func(w *Writer) { w.String("café") }, `"café"`},
		{"bad UTF-8", true, func(w *Writer) { w.String("caf\xe9") }, "{4}\r\ncaf\xe9"},
		{"long", false, func(w *Writer) { w.String(long) }, "{1025}\r\n" + long},
		{"max quoted", false, func(w *Writer) { w.String(long[1:]) }, `"` + long[1:] + `"`},
		{"NUL", false, func(w *Writer) { w.String("a\x00b") }, "{5}\r\na\uFFFDb"},
		{"astring atom", false, func(w *Writer) { w.AString("INBOX") }, "INBOX"},
		{"astring ]", false, func(w *Writer) { w.AString("a]") }, "a]"},
		{"astring space", false, func(w *Writer) { w.AString("a b") }, `"a b"`},
		{"astring NIL", false, func(w *Writer) { w.AString("nil") }, `"nil"`},
		{"astring empty", false, func(w *Writer) { w.AString("") }, `""`},
		{"astring wildcard", false, func(w *Writer) { w.AString("a*") }, `"a*"`},
		{"nstring", false, func(w *Writer) { w.NString(""); w.NString("x") }, `NIL "x"`},
		{"mailbox", false, func(w *Writer) { w.Mailbox("Entwürfe") }, "Entw&APw-rfe"},
		{"mailbox &", false, func(w *Writer) { w.Mailbox("a&b c") }, `"a&-b c"`},
		{"mailbox UTF-8", true, func(w *Writer) { w.Mailbox("Entwürfe") }, `"Entwürfe"`},
		{"numbers", false, func(w *Writer) { w.Number(4294967295); w.Number64(9223372036854775807) }, "4294967295 9223372036854775807"},
		{"literal", false, func(w *Writer) { w.Literal([]byte("ab")); w.Literal8([]byte("\x00")) }, "{2}\r\nab ~{1}\r\n\x00"},
		{"lists", false, func(w *Writer) {
			w.Atom("X")
			w.BeginList()
			w.BeginList()
			w.EndList()
			w.Atom("a")
			w.BeginList()
			w.Number(1)
			w.Number(2)
			w.EndList()
			w.EndList()
			w.NIL()
		}, "X (() a (1 2)) NIL"},
		{"flags", false, func(w *Writer) { w.Flags([]string{`\Seen`, "$Junk"}); w.Flags(nil) }, `(\Seen $Junk) ()`},
		{"code", false, func(w *Writer) {
			w.Atom("OK")
			w.BeginCode("PERMANENTFLAGS")
			w.Flags([]string{`\Deleted`, `\*`})
			w.EndCode()
			w.Text("Limited")
		}, `OK [PERMANENTFLAGS (\Deleted \*)] Limited`},
		{"code alone", false, func(w *Writer) { w.Atom("OK"); w.BeginCode("READ-WRITE"); w.EndCode() }, `OK [READ-WRITE]`},
		{"text", false, func(w *Writer) { w.Text("a\r\nb\x00ü") }, "a  b ??"},
		{"text UTF-8", true, func(w *Writer) { w.Text("ü\xff") }, "ü?"},
		{"seqset", false, func(w *Writer) { w.SeqSet(SeqSet{{5, 7}, {1, 1}, {9, 0}}) }, "1,5:7,9:*"},
		{"date-time", false, func(w *Writer) {
			w.DateTime(time.Date(1996, 7, 17, 2, 44, 25, 0, time.FixedZone("", -7*3600)))
		}, `"17-Jul-1996 02:44:25 -0700"`},
	}
	for _, tt := range tests {
		if got := render(tt.utf8, tt.fn); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestWriterLines(t *testing.T) {
	t.Parallel()
	w, sb := newWriter()
	w.Status("a1", "OK", "UIDNEXT 4", "Predicted next UID")
	w.Status("", "BAD", "", "Bad tag")
	w.Status("a2", "NO", "TOOBIG", "")
	w.Tagged("a3")
	w.Atom("OK")
	w.Text("done")
	w.CRLF()
	if err := w.Continue("Ready for literal data"); err != nil {
		t.Fatal(err)
	}
	want := "a1 OK [UIDNEXT 4] Predicted next UID\r\n* BAD Bad tag\r\na2 NO [TOOBIG]\r\na3 OK done\r\n+ Ready for literal data\r\n"
	if sb.String() != want {
		t.Errorf("got %q\nwant %q", sb.String(), want)
	}
}

func TestLiteralFrom(t *testing.T) {
	t.Parallel()
	got := render(false, func(w *Writer) {
		w.Atom("BODY[]")
		if err := w.LiteralFrom(strings.NewReader("hello world"), 5, false); err != nil {
			t.Error(err)
		}
		w.Atom("X")
	})
	if got != "BODY[] {5}\r\nhello X" {
		t.Errorf("got %q", got)
	}
	w, _ := newWriter()
	if err := w.LiteralFrom(strings.NewReader("abc"), 5, true); !errors.Is(err, errShortLiteral) {
		t.Errorf("short reader: %v", err)
	}
	if w.CRLF() == nil || w.Err() == nil {
		t.Error("error not sticky")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestWriterError(t *testing.T) {
	t.Parallel()
	w := NewWriter(bufio.NewWriterSize(failWriter{}, 16))
	w.Untagged()
	w.String(strings.Repeat("x", 100))
	if err := w.CRLF(); err == nil {
		t.Fatal("no error")
	}
	if w.Flush() == nil || w.Continue("x") == nil {
		t.Error("error not sticky")
	}
}

func TestDateTime(t *testing.T) {
	t.Parallel()
	d := time.Date(2024, 2, 9, 8, 7, 6, 0, time.FixedZone("", 5*3600+30*60))
	if s := FormatDateTime(d); s != "09-Feb-2024 08:07:06 +0530" {
		t.Errorf("FormatDateTime: %s", s)
	}
	for _, s := range []string{"09-Feb-2024 08:07:06 +0530", " 9-Feb-2024 08:07:06 +0530", "9-feb-2024 08:07:06 +0530"} {
		got, err := ParseDateTime(s)
		if err != nil || !got.Equal(d) {
			t.Errorf("ParseDateTime(%q) = %v, %v", s, got, err)
		}
		if _, off := got.Zone(); off != 5*3600+30*60 {
			t.Errorf("ParseDateTime(%q): zone %d", s, off)
		}
	}
	if got, err := ParseDateTime("31-Dec-1999 23:59:60 -0000"); err != nil || got.Second() != 59 {
		t.Errorf("leap second: %v %v", got, err)
	}
	for _, s := range []string{
		"", "09-Feb-2024", "09-Feb-2024 08:07:06", "09-Feb-2024 08:07:06 0530", "09-Feb-2024 8:07:06 +0530",
		"09-Feb-2024 08:07:06 +05300", "32-Jan-2024 08:07:06 +0000", "09-Feb-24 08:07:06 +0000",
		"09-Feb-2024 08:60:06 +0000", "09-Feb-2024 08:07:06 +2400", "09-Feb-2024  08:07:06 +0000",
		"00-Feb-2024 08:07:06 +0000", "09-Feb-0000 08:07:06 +0000", "09-Feb-2+24 08:07:06 +0000",
	} {
		if got, err := ParseDateTime(s); err == nil {
			t.Errorf("ParseDateTime(%q) = %v, want error", s, got)
		}
	}
	if got, err := ParseDate("1-Feb-1994"); err != nil || !got.Equal(time.Date(1994, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseDate: %v %v", got, err)
	}
	for _, s := range []string{"1-Feb-1994 ", "29-Feb-2023", "1-Febr-1994", "-Feb-1994", "1-Feb-19945"} {
		if got, err := ParseDate(s); err == nil {
			t.Errorf("ParseDate(%q) = %v, want error", s, got)
		}
	}
}
