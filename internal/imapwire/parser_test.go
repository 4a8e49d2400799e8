package imapwire

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// parseArg runs fn on the arguments of "a X <args>" and checks that it used
// them all.
func parseArg(t *testing.T, args string, opts Options, fn func(p *Parser) (any, error)) (any, error) {
	t.Helper()
	r, _ := newReader("a X "+args+"\r\n", opts)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	if err := cmd.Args.SP(); err != nil {
		return nil, err
	}
	v, err := fn(cmd.Args)
	if err != nil {
		return v, err
	}
	return v, cmd.Args.End()
}

func TestTokens(t *testing.T) {
	t.Parallel()
	atom := func(p *Parser) (any, error) { return p.Atom() }
	astring := func(p *Parser) (any, error) { return p.AString() }
	str := func(p *Parser) (any, error) { return p.String() }
	nstring := func(p *Parser) (any, error) {
		s, ok, err := p.NString()
		if !ok {
			return "<nil>", err
		}
		return s, err
	}
	number := func(p *Parser) (any, error) { return p.Number() }
	nz := func(p *Parser) (any, error) { return p.NZNumber() }
	number64 := func(p *Parser) (any, error) { return p.Number64() }
	seq := func(p *Parser) (any, error) {
		s, err := p.SeqSet()
		return s.String(), err
	}
	flag := func(p *Parser) (any, error) { return p.Flag() }
	keyword := func(p *Parser) (any, error) { return p.Keyword() }
	mailbox := func(p *Parser) (any, error) { return p.Mailbox() }
	listMailbox := func(p *Parser) (any, error) { return p.ListMailbox() }
	section := func(p *Parser) (any, error) {
		s, err := p.Section()
		return fmt.Sprintf("%v|%s|%q", s.Part, s.Specifier, s.Fields), err
	}
	partial := func(p *Parser) (any, error) {
		o, n, ok, err := p.Partial()
		return fmt.Sprint(o, n, ok), err
	}
	date := func(p *Parser) (any, error) {
		d, err := p.Date()
		return d.Format(time.DateOnly), err
	}
	dateTime := func(p *Parser) (any, error) {
		d, err := p.DateTime()
		return d.Format(time.RFC3339), err
	}
	utf8 := Options{UTF8: true}

	tests := []struct {
		name string
		fn   func(p *Parser) (any, error)
		in   string
		opts Options
		want any // nil: a syntax error
	}{
		{"atom", atom, "FLAGS", Options{}, "FLAGS"},
		{"atom with [", atom, "BODY[", Options{}, "BODY["},
		{"atom stops at ]", atom, "a]", Options{}, nil},
		{"atom empty", atom, "(", Options{}, nil},
		{"atom 8-bit", atom, "caf\xc3\xa9", utf8, nil},
		{"atom wildcard", atom, "a*", Options{}, nil},
		{"astring atom", astring, "user]name", Options{}, "user]name"},
		{"astring quoted", astring, `"a b"`, Options{}, "a b"},
		{"astring escapes", astring, `"a\"b\\c"`, Options{}, `a"b\c`},
		{"astring empty quoted", astring, `""`, Options{}, ""},
		{"astring literal", astring, "{3}\r\na b", Options{}, "a b"},
		{"astring NIL is an atom", astring, "NIL", Options{}, "NIL"},
		{"quoted bad escape", str, `"a\b"`, Options{}, nil},
		{"quoted unterminated", str, `"abc`, Options{}, nil},
		{"quoted escape at end", str, `"abc\`, Options{}, nil},
		{"quoted CR", str, "\"a\rb\"", Options{}, nil},
		{"quoted tab", str, "\"a\tb\"", Options{}, "a\tb"},
		{"quoted 8-bit", str, "\"caf\xc3\xa9\"", Options{}, nil},
		{"quoted UTF-8", str, "\"caf\xc3\xa9\"", utf8, "café"},
		{"quoted bad UTF-8", str, "\"caf\xe9\"", utf8, nil},
		{"string atom", str, "abc", Options{}, nil},
		{"nstring NIL", nstring, "NIL", Options{}, "<nil>"},
		{"nstring nil", nstring, "nil", Options{}, "<nil>"},
		{"nstring quoted NIL", nstring, `"NIL"`, Options{}, "NIL"},
		{"nstring NILS", nstring, "NILS", Options{}, nil},
		{"number", number, "4294967295", Options{}, uint32(4294967295)},
		{"number zero", number, "0", Options{}, uint32(0)},
		{"number leading zeros", number, "007", Options{}, uint32(7)},
		{"number overflow", number, "4294967296", Options{}, nil},
		{"number sign", number, "-1", Options{}, nil},
		{"number trailing", number, "12a", Options{}, nil},
		{"nz-number", nz, "1", Options{}, uint32(1)},
		{"nz-number 0", nz, "0", Options{}, nil},
		{"number64", number64, "9223372036854775807", Options{}, uint64(9223372036854775807)},
		{"number64 overflow", number64, "9223372036854775808", Options{}, nil},
		{"seqset", seq, "1:*,3,5:7", Options{}, "1:*"},
		{"seqset canonical", seq, "7:5,1,2", Options{}, "1:2,5:7"},
		{"seqset $", seq, "$", Options{}, "$"},
		{"seqset $ list", seq, "1,$", Options{}, "1,$"},
		{"seqset zero", seq, "0", Options{}, nil},
		{"seqset dangling", seq, "1:", Options{}, nil},
		{"seqset comma", seq, "1,,2", Options{}, nil},
		{"flag system", flag, `\Seen`, Options{}, `\Seen`},
		{"flag keyword", flag, "$Forwarded", Options{}, "$Forwarded"},
		{"flag star", flag, `\*`, Options{}, nil},
		{"flag backslash", flag, `\`, Options{}, nil},
		{"keyword", keyword, "body.peek[1]", Options{}, nil}, // the section is left over
		{"keyword upper", keyword, "rfc822.size", Options{}, "RFC822.SIZE"},
		{"mailbox inbox", mailbox, "inBox", Options{}, "INBOX"},
		{"mailbox utf7", mailbox, "&ZeVnLIqe-", Options{}, "日本語"},
		{"mailbox bad utf7", mailbox, "&ZeVnLIqe", Options{}, badName{}},
		{"mailbox utf8", mailbox, "\"日本語\"", utf8, "日本語"},
		{"mailbox utf8 takes & literally", mailbox, "a&b", utf8, "a&b"},
		{"mailbox utf8 literal bad", mailbox, "{1}\r\n\xff", utf8, nil},
		{"list mailbox", listMailbox, "%/&ZeVnLIqe-/*", Options{}, "%/日本語/*"},
		{"list mailbox quoted", listMailbox, `"a b*"`, Options{}, "a b*"},
		{"section empty", section, "[]", Options{}, `[]||[]`},
		{"section part", section, "[1.2]", Options{}, `[1 2]||[]`},
		{"section text", section, "[1.2.text]", Options{}, `[1 2]|TEXT|[]`},
		{"section header", section, "[HEADER]", Options{}, `[]|HEADER|[]`},
		{"section mime", section, "[3.MIME]", Options{}, `[3]|MIME|[]`},
		{"section mime without part", section, "[MIME]", Options{}, nil},
		{"section fields", section, `[HEADER.FIELDS (From "To" {2}` + "\r\ncc)]", Options{}, `[]|HEADER.FIELDS|["From" "To" "cc"]`},
		{"section fields not", section, "[1.HEADER.FIELDS.NOT (X)]", Options{}, `[1]|HEADER.FIELDS.NOT|["X"]`},
		{"section fields empty", section, "[HEADER.FIELDS ()]", Options{}, nil},
		{"section zero part", section, "[0]", Options{}, nil},
		{"section unknown", section, "[FOO]", Options{}, nil},
		{"section unterminated", section, "[1", Options{}, nil},
		{"partial", partial, "<0.1024>", Options{}, "0 1024 true"},
		{"partial zero count", partial, "<0.0>", Options{}, nil},
		{"partial open", partial, "<5>", Options{}, nil},
		{"date bare", date, "1-Feb-1994", Options{}, "1994-02-01"},
		{"date quoted", date, `"01-feb-1994"`, Options{}, "1994-02-01"},
		{"date bad month", date, "1-Fev-1994", Options{}, nil},
		{"date bad day", date, "30-Feb-1994", Options{}, nil},
		{"date leap day", date, "29-Feb-2024", Options{}, "2024-02-29"},
		{"date 3-digit day", date, "001-Feb-1994", Options{}, nil},
		{"date-time", dateTime, `"17-Jul-1996 02:44:25 -0700"`, Options{}, "1996-07-17T02:44:25-07:00"},
		{"date-time space day", dateTime, `" 7-Jul-1996 02:44:25 +0130"`, Options{}, "1996-07-07T02:44:25+01:30"},
		{"date-time bare", dateTime, `17-Jul-1996`, Options{}, nil},
		{"date-time no zone", dateTime, `"17-Jul-1996 02:44:25"`, Options{}, nil},
		{"date-time bad hour", dateTime, `"17-Jul-1996 24:44:25 +0000"`, Options{}, nil},
	}
	for _, tt := range tests {
		got, err := parseArg(t, tt.in, tt.opts, tt.fn)
		if _, ok := tt.want.(badName); ok {
			// Not bad protocol: a name no mailbox has (NO, not BAD).
			var we *Error
			if kindOf(err) != KindBadName || !errors.As(err, &we) || we.Status() != "NO" || we.Code() != "NONEXISTENT" {
				t.Errorf("%s: %q: got %v, %v; want a KindBadName error answered NO [NONEXISTENT]", tt.name, tt.in, got, err)
			}
			continue
		}
		if tt.want == nil {
			if kindOf(err) != KindSyntax {
				t.Errorf("%s: %q: got %v, %v; want syntax error", tt.name, tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q: got %#v, %v; want %#v", tt.name, tt.in, got, err, tt.want)
		}
	}
}

// badName marks a case that must fail with KindBadName.
type badName struct{}

// TestFetchCommand parses a realistic command the way a handler would.
func TestFetchCommand(t *testing.T) {
	t.Parallel()
	in := "A654 UID FETCH 1:*,$ (FLAGS BODY.PEEK[HEADER.FIELDS (DATE FROM)]<0.2048> BINARY[1]) (CHANGEDSINCE 12345 VANISHED)\r\n"
	r, _ := newReader(in, Options{})
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Name != "UID" {
		t.Fatal(cmd, err)
	}
	p := cmd.Args
	var got []string
	add := func(v ...any) { got = append(got, fmt.Sprint(v...)) }
	p.SP()
	sub, _ := p.Keyword()
	p.SP()
	set, _ := p.SeqSet()
	add(sub, " ", set.Set, set.Saved)
	p.SP()
	err = p.List(func() error {
		name, err := p.Keyword()
		if err != nil {
			return err
		}
		if p.Peek() == '[' {
			s, err := p.Section()
			if err != nil {
				return err
			}
			o, n, ok, err := p.Partial()
			add(name, " ", s.String(), " ", o, n, ok)
			return err
		}
		add(name)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Accept(' ') {
		p.List(func() error {
			k, err := p.Keyword()
			if k == "CHANGEDSINCE" {
				p.SP()
				n, err := p.Number64()
				add(k, n)
				return err
			}
			add(k)
			return err
		})
	}
	if err := p.End(); err != nil {
		t.Fatal(err)
	}
	want := "FETCH 1:* true|FLAGS|BODY.PEEK HEADER.FIELDS (DATE FROM) 0 2048 true|BINARY 1 0 0 false|CHANGEDSINCE12345|VANISHED"
	if g := strings.Join(got, "|"); g != want {
		t.Errorf("got  %s\nwant %s", g, want)
	}
}

func TestStickyError(t *testing.T) {
	t.Parallel()
	r, _ := newReader("a X ) b\r\n", Options{})
	cmd, _ := r.ReadCommand()
	p := cmd.Args
	p.SP()
	_, err1 := p.Atom()
	_, err2 := p.AString()
	if err1 == nil || err1 != err2 || p.Peek() != 0 || p.AtEnd() || p.Accept(')') {
		t.Errorf("errors not sticky: %v %v", err1, err2)
	}
	if err := p.Fail("other"); err != err1 {
		t.Errorf("Fail replaced the first error: %v", err)
	}
	// After End the Parser refuses more.
	r, _ = newReader("a NOOP\r\n", Options{})
	cmd, _ = r.ReadCommand()
	if err := cmd.Args.End(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Args.Atom(); kindOf(err) != KindSyntax {
		t.Errorf("after End: %v", err)
	}
}
