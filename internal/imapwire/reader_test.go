package imapwire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// newReader returns a Reader of input whose Continue calls are counted.
func newReader(input string, opts Options) (*Reader, *int) {
	n := new(int)
	opts.Continue = func() error { *n++; return nil }
	return NewReader(bufio.NewReader(strings.NewReader(input)), opts), n
}

func kindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func tagOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Tag
	}
	return "?"
}

func TestReadCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		tag, name string
		kind      ErrorKind
	}{
		{in: "a1 NOOP\r\n", tag: "a1", name: "NOOP"},
		{in: "a1 noop\r\n", tag: "a1", name: "NOOP"},
		{in: "a1 x-Custom\r\n", tag: "a1", name: "X-CUSTOM"},
		{in: "a1 NOOP\n", tag: "a1", name: "NOOP"}, // bare LF accepted
		{in: "\r\n\r\na1 NOOP\r\n", tag: "a1", name: "NOOP"},
		{in: "tag.with]bracket CHECK\r\n", tag: "tag.with]bracket", name: "CHECK"},
		{in: "a+1 NOOP\r\n", kind: KindSyntax},
		{in: "* NOOP\r\n", kind: KindSyntax},
		{in: " NOOP\r\n", kind: KindSyntax},
		{in: "a1\r\n", tag: "a1", kind: KindSyntax},
		{in: "a1 \r\n", tag: "a1", kind: KindSyntax},
		{in: "a1 (NOOP\r\n", tag: "a1", kind: KindSyntax},
		{in: "a1 NO\"OP\r\n", tag: "a1", kind: KindSyntax},
		{in: "a1 NOOP\x00\r\n", tag: "a1", kind: KindSyntax},
		{in: "", kind: KindIO},
		{in: "a1 NOOP", kind: KindIO}, // no line end: truncated
	}
	for _, tt := range tests {
		r, _ := newReader(tt.in, Options{})
		cmd, err := r.ReadCommand()
		if tt.kind != 0 {
			if kindOf(err) != tt.kind {
				t.Errorf("%q: err %v, want kind %v", tt.in, err, tt.kind)
			} else if tt.kind != KindIO && tagOf(err) != tt.tag {
				t.Errorf("%q: error tag %q, want %q", tt.in, tagOf(err), tt.tag)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if cmd.Tag != tt.tag || cmd.Name != tt.name {
			t.Errorf("%q: got %q %q, want %q %q", tt.in, cmd.Tag, cmd.Name, tt.tag, tt.name)
		}
	}
}

func TestEOF(t *testing.T) {
	t.Parallel()
	r, _ := newReader("a NOOP\r\n", Options{})
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	_, err := r.ReadCommand()
	if !errors.Is(err, io.EOF) || !IsFatal(err) {
		t.Fatalf("got %v, want fatal io.EOF", err)
	}
	// Truncated inside a line, a quoted string, a literal.
	for _, in := range []string{"a NOOP", "a LOGIN \"x", "a LOGIN {5}\r\nab", "a LOGIN {5+}\r\nabcde"} {
		r, _ := newReader(in, Options{})
		cmd, err := r.ReadCommand()
		if err == nil {
			_, err = cmd.Args.walk()
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: got %v, want io.ErrUnexpectedEOF", in, err)
		}
		if _, err2 := r.ReadCommand(); !IsFatal(err2) {
			t.Errorf("%q: reader usable after %v", in, err)
		}
	}
}

// walk reads any arguments generically, for tests and fuzzing: it returns
// the values it read, one string per token.
func (p *Parser) walk() ([]string, error) {
	var out []string
	for !p.AtEnd() {
		if err := p.SP(); err != nil {
			return out, err
		}
		if err := p.walkValue(&out); err != nil {
			return out, err
		}
	}
	return out, p.End()
}

func (p *Parser) walkValue(out *[]string) error {
	switch c := p.Peek(); {
	case c == '(':
		*out = append(*out, "(")
		err := p.List(func() error { return p.walkValue(out) })
		*out = append(*out, ")")
		return err
	case c == '"' || c == '{':
		s, err := p.String()
		*out = append(*out, "s:"+s)
		return err
	case c == '~':
		lit, rd, err := p.OpenLiteral(1 << 16)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(rd)
		if int64(len(b)) != lit.Size && err == nil {
			return errors.New("short literal")
		}
		*out = append(*out, "l8:"+string(b))
		return err
	case c == '[':
		s, err := p.Section()
		*out = append(*out, "sec:"+s.String())
		return err
	case c == '<':
		o, n, _, err := p.Partial()
		*out = append(*out, fmt.Sprintf("partial:%d.%d", o, n))
		return err
	case c == '\\':
		s, err := p.Flag()
		*out = append(*out, "flag:"+s)
		return err
	case c == '$' || c == '*' || isDigit(c):
		s, err := p.SeqSet()
		*out = append(*out, "set:"+s.String())
		return err
	}
	if p.AcceptWord("NIL") {
		*out = append(*out, "NIL")
		return nil
	}
	s, err := p.AString()
	*out = append(*out, "a:"+s)
	return err
}

func TestLiterals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    string
		want  []string
		conts int
		kind  ErrorKind
	}{
		{in: "a LOGIN {5}\r\nalice {6}\r\nsecret\r\n", want: []string{"s:alice", "s:secret"}, conts: 2},
		{in: "a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n", want: []string{"s:alice", "s:secret"}},
		{in: "a LOGIN {0}\r\n \"\"\r\n", want: []string{"s:", "s:"}, conts: 1},
		{in: "a LOGIN {2}\r\n\r\n x\r\n", want: []string{"s:\r\n", "a:x"}, conts: 1},
		{in: "a X {3}\r\n\xff\xfe\x80\r\n", want: []string{"s:\xff\xfe\x80"}, conts: 1},
		{in: "a X (a {1}\r\nb c)\r\n", want: []string{"(", "a:a", "s:b", "a:c", ")"}, conts: 1},
		{in: "a APPEND x ~{3}\r\na\x00b\r\n", want: []string{"a:x", "l8:a\x00b"}, conts: 1},
		{in: "a APPEND x ~{3+}\r\na\x00b\r\n", want: []string{"a:x", "l8:a\x00b"}},
		{in: "a X {3}\r\na\x00b\r\n", conts: 1, kind: KindSyntax}, // NUL in a literal
		{in: "a X {3} \r\nabc\r\n", kind: KindSyntax},             // literal must end the line
		{in: "a X {3x}\r\n", kind: KindSyntax},                    // bad prefix
		{in: "a X {}\r\n", kind: KindSyntax},                      // no size
		{in: "a X {99999999999999999999}\r\n", kind: KindSyntax},  // over number64
		{in: "a LOGIN x {9223372036854775807}\r\n", kind: KindLiteralTooLarge},
	}
	for _, tt := range tests {
		r, conts := newReader(tt.in, Options{})
		cmd, err := r.ReadCommand()
		var got []string
		if err == nil {
			got, err = cmd.Args.walk()
		}
		if tt.kind != 0 {
			if kindOf(err) != tt.kind {
				t.Errorf("%q: err %v, want %v", tt.in, err, tt.kind)
			}
		} else if err != nil {
			t.Errorf("%q: %v", tt.in, err)
		} else if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
		if *conts != tt.conts {
			t.Errorf("%q: %d continuation requests, want %d", tt.in, *conts, tt.conts)
		}
	}
}

// TestSyncLiteralWaits checks that the Reader asks for a synchronizing
// literal's data before reading it: the client here sends the data only
// after the continuation request, as a real client does.
func TestSyncLiteralWaits(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	cont := make(chan struct{}, 1)
	r := NewReader(bufio.NewReader(pr), Options{Continue: func() error {
		cont <- struct{}{}
		return nil
	}})
	go func() {
		io.WriteString(pw, "a LOGIN {5}\r\n")
		<-cont
		io.WriteString(pw, "alice {3}\r\n")
		<-cont
		io.WriteString(pw, "pwd\r\n")
		pw.Close()
	}()
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	got, err := cmd.Args.walk()
	if err != nil || strings.Join(got, "|") != "s:alice|s:pwd" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestTooLongLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		in    string
		conts int
	}{
		{"plain", "a1 NOOP " + long + "\r\n", 0},
		{"bare LF", "a1 NOOP " + long + "\n", 0},
		{"ends with sync literal", "a1 LOGIN " + long + " {5}\r\n", 0},
		{"ends with non-sync literal", "a1 LOGIN " + long + " {5+}\r\nhello\r\n", 0},
		{"non-sync literal and long line after", "a1 LOGIN {5+}\r\nhello " + long + " {3+}\r\nabc x\r\n", 0},
		{"sync literal and long line after", "a1 LOGIN {5}\r\nhello " + long + "\r\n", 1},
	}
	for _, tt := range tests {
		r, conts := newReader(tt.in+"b2 NOOP\r\n", Options{MaxLine: 64})
		cmd, err := r.ReadCommand()
		if err == nil {
			_, err = cmd.Args.walk()
		}
		if kindOf(err) != KindLineTooLong || tagOf(err) != "a1" {
			t.Errorf("%s: got %v (tag %q), want line too long for a1", tt.name, err, tagOf(err))
		}
		if err := r.Skip(); err != nil {
			t.Errorf("%s: Skip: %v", tt.name, err)
		}
		cmd, err = r.ReadCommand()
		if err != nil || cmd.Tag != "b2" || cmd.Args.End() != nil {
			t.Errorf("%s: next command: %+v, %v", tt.name, cmd, err)
		}
		if *conts != tt.conts {
			t.Errorf("%s: %d continuation requests, want %d", tt.name, *conts, tt.conts)
		}
	}
	// A line of exactly MaxLine octets is fine.
	r, _ := newReader("a NOOP "+strings.Repeat("x", 64-7)+"\r\n", Options{MaxLine: 64})
	cmd, err := r.ReadCommand()
	if err == nil {
		_, err = cmd.Args.walk()
	}
	if err != nil {
		t.Errorf("line of MaxLine octets: %v", err)
	}
	// ReadLine.
	r, _ = newReader(long+"\r\nDONE\r\n", Options{MaxLine: 64})
	if _, err := r.ReadLine(); kindOf(err) != KindLineTooLong {
		t.Errorf("ReadLine: %v", err)
	}
	if s, err := r.ReadLine(); s != "DONE" || err != nil {
		t.Errorf("ReadLine: %q, %v", s, err)
	}
}

func TestTooLargeLiteral(t *testing.T) {
	t.Parallel()
	data := strings.Repeat("d", 20)
	tests := []struct {
		name   string
		in     string
		opts   Options
		status string
		conts  int
	}{
		// The client waits for "+" and gets NO [TOOBIG]: it sends no data.
		{"sync", "a1 LOGIN {20}\r\n", Options{MaxLiteral: 10}, "NO", 0},
		{"sync, over MaxCommand", "a1 LOGIN {5}\r\nalice {20}\r\n", Options{MaxLiteral: 100, MaxCommand: 30}, "NO", 1},
		// The client sends the data anyway: Skip discards it.
		{"non-sync", "a1 LOGIN {20+}\r\n" + data + " {3+}\r\nabc\r\n", Options{MaxLiteral: 10}, "BAD", 0},
		{"LITERAL-", "a1 LOGIN {20+}\r\n" + data + "\r\n", Options{MaxNonSync: 10}, "BAD", 0},
		{"literal8 streamed", "a1 APPEND x ~{20}\r\n", Options{}, "NO", 0},
	}
	for _, tt := range tests {
		r, conts := newReader(tt.in+"b2 NOOP\r\n", tt.opts)
		cmd, err := r.ReadCommand()
		if err == nil {
			if cmd.Name == "APPEND" {
				cmd.Args.SP()
				cmd.Args.Mailbox()
				cmd.Args.SP()
				_, _, err = cmd.Args.OpenLiteral(10)
			} else {
				_, err = cmd.Args.walk()
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != KindLiteralTooLarge || e.Tag != "a1" ||
			e.Status() != tt.status || e.Code() != "TOOBIG" || e.Literal.Size != 20 {
			t.Errorf("%s: got %v, want %s [TOOBIG] for a1", tt.name, err, tt.status)
			continue
		}
		if err := r.Skip(); err != nil {
			t.Errorf("%s: Skip: %v", tt.name, err)
		}
		cmd, err = r.ReadCommand()
		if err != nil || cmd.Tag != "b2" || cmd.Args.End() != nil {
			t.Errorf("%s: next command: %+v, %v", tt.name, cmd, err)
		}
		if *conts != tt.conts {
			t.Errorf("%s: %d continuation requests, want %d", tt.name, *conts, tt.conts)
		}
	}
	// A refused non-synchronizing literal over MaxDiscard closes.
	r, _ := newReader("a1 LOGIN {1000+}\r\n", Options{MaxLiteral: 10, MaxDiscard: 100})
	cmd, _ := r.ReadCommand()
	if _, err := cmd.Args.walk(); kindOf(err) != KindLiteralTooLarge {
		t.Fatalf("got %v", err)
	}
	if err := r.Skip(); !IsFatal(err) || !errors.Is(err, errDiscard) {
		t.Errorf("Skip: got %v, want fatal", err)
	}
}

func TestMaxCommand(t *testing.T) {
	t.Parallel()
	in := "a1 X {5+}\r\naaaaa {5+}\r\nbbbbb {5+}\r\nccccc\r\nb2 NOOP\r\n"
	r, _ := newReader(in, Options{MaxCommand: 22})
	cmd, _ := r.ReadCommand()
	got, err := cmd.Args.walk()
	if kindOf(err) != KindLiteralTooLarge || len(got) != 2 {
		t.Errorf("got %q, %v", got, err)
	}
	cmd, err = r.ReadCommand()
	if err != nil || cmd.Tag != "b2" {
		t.Errorf("next: %+v %v", cmd, err)
	}
	// Many short lines joined by literals.
	in = "a1 X" + strings.Repeat(" {1+}\r\nx", 20) + "\r\nb2 NOOP\r\n"
	r, _ = newReader(in, Options{MaxCommand: 50})
	cmd, _ = r.ReadCommand()
	if _, err := cmd.Args.walk(); kindOf(err) != KindLineTooLong && kindOf(err) != KindLiteralTooLarge {
		t.Errorf("got %v", err)
	}
	cmd, err = r.ReadCommand()
	if err != nil || cmd.Tag != "b2" {
		t.Errorf("next: %+v %v", cmd, err)
	}
}

// TestResync checks that after a syntax error anywhere the next command is
// found, skipping non-synchronizing literals and never reading a
// synchronizing one that was not asked for.
func TestResync(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    string
		conts int
	}{
		{"error mid-line", "a1 X ) y\r\n", 0},
		{"error before non-sync literal", "a1 X ) {4+}\r\n) ) {2+}\r\n)(\r\n", 0},
		{"error before sync literal", "a1 X ) {4}\r\n", 0},
		{"error after literal", "a1 X {4}\r\nabcd )\r\n", 1},
		{"error in literal line after", "a1 X {4+}\r\nabcd ) {1+}\r\n)\r\n", 0},
		{"unterminated quote", "a1 X \"abc {3+}\r\nabc\r\n", 0},
		{"bad escape", "a1 X \"a\\bc\"\r\n", 0},
		{"bad tag", "+ X {3+}\r\nabc\r\n", 0},
	}
	for _, tt := range tests {
		r, conts := newReader(tt.in+"b2 NOOP\r\n", Options{})
		cmd, err := r.ReadCommand()
		if err == nil {
			_, err = cmd.Args.walk()
		}
		if kindOf(err) != KindSyntax {
			t.Errorf("%s: got %v, want syntax error", tt.name, err)
		}
		// ReadCommand skips by itself.
		cmd, err = r.ReadCommand()
		if err != nil || cmd.Tag != "b2" || cmd.Args.End() != nil {
			t.Errorf("%s: next command: %+v, %v", tt.name, cmd, err)
		}
		if *conts != tt.conts {
			t.Errorf("%s: %d continuation requests, want %d", tt.name, *conts, tt.conts)
		}
	}
}

func TestOpenLiteral(t *testing.T) {
	t.Parallel()
	// MULTIAPPEND (RFC 3502): two messages, the first read partly.
	in := "a APPEND INBOX (\\Seen) {11}\r\nHello world ~{5+}\r\nab\x00cd\r\nb NOOP\r\n"
	r, conts := newReader(in, Options{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	p := cmd.Args
	p.SP()
	mbox, _ := p.Mailbox()
	p.SP()
	var flags []string
	p.List(func() error { f, err := p.Flag(); flags = append(flags, f); return err })
	p.SP()
	info, err := p.LiteralInfo()
	if err != nil || info != (Literal{Size: 11}) || *conts != 0 {
		t.Fatalf("LiteralInfo: %+v %v (conts %d)", info, err, *conts)
	}
	lit, rd, err := p.OpenLiteral(100)
	if err != nil || lit.Size != 11 || *conts != 1 {
		t.Fatalf("OpenLiteral: %+v %v", lit, err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(rd, buf); err != nil || string(buf) != "Hello" {
		t.Fatalf("read %q %v", buf, err)
	}
	// The next call drains the rest.
	if err := p.SP(); err != nil {
		t.Fatal(err)
	}
	if n, err := rd.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("stale reader: %d %v", n, err)
	}
	lit, rd, err = p.OpenLiteral(100)
	if err != nil || !lit.Binary || !lit.NonSync || *conts != 1 {
		t.Fatalf("OpenLiteral 2: %+v %v", lit, err)
	}
	b, err := io.ReadAll(rd)
	if string(b) != "ab\x00cd" || err != nil {
		t.Errorf("literal8 %q %v", b, err)
	}
	if err := p.End(); err != nil {
		t.Fatal(err)
	}
	if mbox != "INBOX" || len(flags) != 1 || flags[0] != `\Seen` {
		t.Errorf("mailbox %q flags %q", mbox, flags)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Errorf("next: %+v %v", cmd, err)
	}
	// Refused after LiteralInfo: a synchronizing literal is not read.
	r, conts = newReader("a APPEND x {5}\r\nb NOOP\r\n", Options{})
	cmd, _ = r.ReadCommand()
	cmd.Args.SP()
	cmd.Args.Atom()
	cmd.Args.SP()
	if _, err := cmd.Args.LiteralInfo(); err != nil {
		t.Fatal(err)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" || *conts != 0 {
		t.Errorf("after refusal: %+v %v (conts %d)", cmd, err, *conts)
	}
	// An opened literal the handler abandons is discarded by Skip.
	r, _ = newReader("a APPEND x {5}\r\nabcde\r\nb NOOP\r\n", Options{})
	cmd, _ = r.ReadCommand()
	cmd.Args.SP()
	cmd.Args.Atom()
	cmd.Args.SP()
	cmd.Args.OpenLiteral(10)
	if cmd, err := r.ReadCommand(); err != nil || cmd.Tag != "b" {
		t.Errorf("after abandon: %+v %v", cmd, err)
	}
}

func TestNestedLists(t *testing.T) {
	t.Parallel()
	r, _ := newReader("a X (((a) ()) (b (c d)))\r\n", Options{})
	cmd, _ := r.ReadCommand()
	got, err := cmd.Args.walk()
	want := "( ( ( a:a ) ( ) ) ( a:b ( a:c a:d ) ) )"
	if err != nil || strings.Join(got, " ") != want {
		t.Errorf("got %q %v", strings.Join(got, " "), err)
	}
	deep := strings.Repeat("(", 10) + strings.Repeat(")", 10)
	r, _ = newReader("a X "+deep+"\r\nb X "+deep[1:len(deep)-1]+"\r\n", Options{MaxDepth: 9})
	cmd, _ = r.ReadCommand()
	if _, err := cmd.Args.walk(); kindOf(err) != KindSyntax {
		t.Errorf("depth 10: %v", err)
	}
	cmd, _ = r.ReadCommand()
	if _, err := cmd.Args.walk(); err != nil {
		t.Errorf("depth 9: %v", err)
	}
	for _, in := range []string{"a X (a\r\n", "a X (a  b)\r\n", "a X ( a)\r\n", "a X (a )\r\n", "a X )\r\n"} {
		r, _ := newReader(in, Options{})
		cmd, _ := r.ReadCommand()
		if _, err := cmd.Args.walk(); kindOf(err) != KindSyntax {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestSetOptions(t *testing.T) {
	t.Parallel()
	r, _ := newReader("a X \"caf\xc3\xa9\"\r\nb X \"caf\xc3\xa9\"\r\n", Options{})
	cmd, _ := r.ReadCommand()
	if _, err := cmd.Args.walk(); kindOf(err) != KindSyntax {
		t.Errorf("8-bit quoted without UTF8: %v", err)
	}
	r.SetUTF8(true)
	cmd, _ = r.ReadCommand()
	if got, err := cmd.Args.walk(); err != nil || got[0] != "s:café" {
		t.Errorf("8-bit quoted with UTF8: %q %v", got, err)
	}
	r, _ = newReader("a X abc\r\n", Options{})
	r.SetOptions(Options{MaxLine: 5})
	if _, err := r.ReadCommand(); kindOf(err) != KindLineTooLong {
		t.Errorf("SetOptions: %v", err)
	}
}

func TestContinueFails(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	r := NewReader(bufio.NewReader(strings.NewReader("a LOGIN {3}\r\nabc\r\n")),
		Options{Continue: func() error { return boom }})
	cmd, _ := r.ReadCommand()
	_, err := cmd.Args.walk()
	if !errors.Is(err, boom) || !IsFatal(err) {
		t.Errorf("got %v", err)
	}
}

func TestMisc(t *testing.T) {
	t.Parallel()
	// A streamed literal cut short by EOF.
	r, _ := newReader("a APPEND x {10}\r\nabc", Options{})
	cmd, _ := r.ReadCommand()
	p := cmd.Args
	p.SP()
	p.Atom()
	p.SP()
	_, rd, err := p.OpenLiteral(-1)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(rd); string(b) != "abc" || !errors.Is(err, io.ErrUnexpectedEOF) || !IsFatal(err) {
		t.Errorf("truncated literal: %q %v", b, err)
	}
	if p.Tag() != "a" {
		t.Errorf("Tag: %q", p.Tag())
	}
	// ReadLine after a command the handler did not End (AUTHENTICATE).
	r, _ = newReader("a AUTHENTICATE PLAIN\r\nAGFsaWNlAHB3ZA==\r\n", Options{})
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "AUTHENTICATE" {
		t.Fatal(cmd, err)
	}
	if s, err := r.ReadLine(); s != "AGFsaWNlAHB3ZA==" || err != nil {
		t.Errorf("ReadLine: %q %v", s, err)
	}
	if _, err := r.ReadLine(); !errors.Is(err, io.EOF) {
		t.Errorf("ReadLine at EOF: %v", err)
	}
	// Error texts and statuses.
	e := &Error{Kind: KindLineTooLong, Tag: "a", Text: "command line too long"}
	if e.Error() != "imapwire: line too long: command line too long" || e.Status() != "BAD" || e.Code() != "" || IsFatal(e) {
		t.Errorf("Error: %q %s %s", e.Error(), e.Status(), e.Code())
	}
	if !IsFatal(io.EOF) || IsFatal(nil) {
		t.Error("IsFatal")
	}
	// Section.String quotes what is not an atom.
	s := Section{Part: []int{1, 2}, Specifier: "HEADER.FIELDS", Fields: []string{"X Y", `a"b`, "Z"}}
	if got := s.String(); got != `1.2.HEADER.FIELDS ("X Y" "a\"b" Z)` {
		t.Errorf("Section.String: %s", got)
	}
}
