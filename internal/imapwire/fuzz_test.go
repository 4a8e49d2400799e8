package imapwire

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzReader feeds random bytes as a command stream. It checks that the
// Reader never panics, that nothing it returns or holds exceeds the limits,
// that it always makes progress, and that the outcome does not depend on how
// the input is split into reads.
func FuzzReader(f *testing.F) {
	seeds := []string{
		"a1 NOOP\r\n",
		"a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
		"A654 UID FETCH 1:*,$ (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.2048>)\r\n",
		"a APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" ~{5+}\r\nab\x00cd\r\n",
		"a SEARCH CHARSET UTF-8 (OR (SUBJECT \"caf\xc3\xa9\") (FROM {3}\r\nann)) SINCE 1-Feb-1994\r\n",
		"a X " + strings.Repeat("x", 70) + " {3+}\r\nabc\r\nb NOOP\r\n",
		"a X {100+}\r\n" + strings.Repeat("y", 100) + "\r\n",
		"a X {1000}\r\nb NOOP\r\n",
		"a X ((((((((((a))))))))))\r\n",
		"a X \"a\\\"b\" NIL nil {0}\r\n\r\n",
		"\r\n\n* BAD\r\n+ x\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, utf8 bool) {
		opts := Options{MaxLine: 64, MaxLiteral: 32, MaxCommand: 256, MaxDiscard: 128, MaxDepth: 8, UTF8: utf8}
		a := runReader(t, bufio.NewReaderSize(bytes.NewReader(in), 4096), opts)
		b := runReader(t, bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(in)), 16), opts)
		if a != b {
			t.Fatalf("outcome depends on read sizes:\n%s\n----\n%s", a, b)
		}
	})
}

// runReader reads commands until the Reader fails and returns a log of
// what it saw.
func runReader(t *testing.T, br *bufio.Reader, opts Options) string {
	var log strings.Builder
	opts.Continue = func() error { log.WriteString("+\n"); return nil }
	r := NewReader(br, opts)
	for i := 0; ; i++ {
		if i > 100000 {
			t.Fatal("no progress")
		}
		cmd, err := r.ReadCommand()
		if err == nil {
			fmt.Fprintf(&log, "cmd %q %q\n", cmd.Tag, cmd.Name)
			var vals []string
			vals, err = cmd.Args.walk()
			for _, v := range vals {
				if !strings.HasPrefix(v, "l8:") && len(v) > 3+max(opts.MaxLine, int(opts.MaxLiteral)) {
					t.Fatalf("value of %d octets", len(v))
				}
			}
			fmt.Fprintf(&log, "vals %q\n", vals)
		}
		p := &r.p
		if len(p.line) > opts.MaxLine+2 || int64(cap(p.buf)) > opts.MaxLiteral || p.cmdBytes > opts.MaxCommand+int64(opts.MaxLine)+2 {
			t.Fatalf("over limits: line %d, literal buffer %d, command %d", len(p.line), cap(p.buf), p.cmdBytes)
		}
		if err == nil {
			continue
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("error of type %T: %v", err, err)
		}
		fmt.Fprintf(&log, "err %v %q %q %+v\n", e.Kind, e.Tag, e.Text, e.Literal)
		if e.Kind == KindIO {
			return log.String()
		}
		if err := r.Skip(); err != nil {
			if !IsFatal(err) {
				t.Fatalf("Skip: non-fatal %v", err)
			}
			fmt.Fprintf(&log, "skip %v\n", err)
			return log.String()
		}
	}
}

// FuzzWriterString checks that whatever form Writer.String, AString and
// Mailbox choose, the Parser reads back the same value.
func FuzzWriterString(f *testing.F) {
	for _, s := range []string{"", "abc", "NIL", "a b", `a"b\c`, "a\r\nb", "café", "caf\xe9", "日本語/&x", strings.Repeat("x", 1030)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, utf8 bool) {
		if strings.IndexByte(s, 0) >= 0 {
			return // NUL cannot be sent in a string; it is replaced
		}
		out := render(utf8, func(w *Writer) {
			w.String(s)
			w.AString(s)
			w.Mailbox(s)
		})
		r, _ := newReader("a X "+out+"\r\n", Options{UTF8: utf8})
		cmd, err := r.ReadCommand()
		if err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		p := cmd.Args
		p.SP()
		s1, _ := p.String()
		p.SP()
		s2, _ := p.AString()
		p.SP()
		s3, err := p.Mailbox()
		if err == nil {
			err = p.End()
		}
		wantMailbox := s
		if strings.EqualFold(s, "INBOX") {
			wantMailbox = "INBOX"
		}
		if validUTF8(s) {
			if err != nil || s1 != s || s2 != s || s3 != wantMailbox {
				t.Fatalf("%q written as %q read as %q %q %q, %v", s, out, s1, s2, s3, err)
			}
		} else if s1 != s || s2 != s {
			t.Fatalf("%q written as %q read as %q %q", s, out, s1, s2)
		}
	})
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
