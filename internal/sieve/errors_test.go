package sieve

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// Compile errors name the position (line:column) and what is wrong.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ src, want string }{
		{`keep`, `1:5: expected ";" or "{" after the arguments of "keep", found end of script`},
		{"keep;\n  frob;", `2:3: unknown command "frob"`},
		{`require "fileinto"; require "x";`, ``}, // checked below: second require is fine only before commands
		{`require "foo.bar";`, `1:9: unsupported capability "foo.bar"`},
		{`fileinto "x";`, `1:1: command "fileinto" needs require "fileinto"`},
		{`keep; require "fileinto";`, `1:7: "require" must come before any other command`},
		{`if true { keep; `, `1:17: expected a command or "}", found end of script`},
		{`if header :is "a" { keep; }`, `1:4: test "header" takes 2 positional argument(s)`},
		{`if header :frob "a" "b" { keep; }`, `1:11: test "header" has no tag :frob`},
		{`if header :is :contains "a" "b" { keep; }`, `1:15: tags :is and :contains exclude each other`},
		{`if header :comparator "i;foo" "a" "b" { keep; }`, `1:23: unknown comparator "i;foo"`},
		{`if header :comparator "i;ascii-numeric" "a" "b" { keep; }`, `needs require "comparator-i;ascii-numeric"`},
		{`if header :count "gt" "a" "b" { keep; }`, `1:11: tag :count needs require "relational"`},
		{`require "relational"; if header :value "xx" "a" "b" { keep; }`, `1:40: unknown relational operator "xx"`},
		{`if size 10 { keep; }`, `1:4: "size" needs :over or :under`},
		{`if size :over "10" { keep; }`, `1:15: argument 1 of "size" must be a number`},
		{`elsif true { keep; }`, `1:1: "elsif" without a preceding "if"`},
		{`if true { keep; } else { keep; } else { keep; }`, `1:34: "else" after "else"`},
		{`if true keep;`, `1:9: unexpected "keep": test "true" takes no test`},
		{`if true;`, `1:1: "if" needs a block`},
		{`keep { }`, `1:1: "keep" takes no block`},
		{`if not (true, false) { keep; }`, `1:4: test "not" takes exactly one test`},
		{`if allof true { keep; }`, `1:4: test "allof" takes a test list in parentheses`},
		{`if anyof (true, false keep) { keep; }`, `1:23: unexpected "keep"`},
		{`if anyof (true, 5) { keep; }`, `1:17: expected a test, found number`},
		{`if anyof (true false) { keep; }`, `1:16: unexpected "false": test "true" takes no test`},
		{`redirect "not an address";`, `1:10: redirect: "not an address" is not an address`},
		{`require "variables"; set "1" "x";`, `1:26: invalid variable name "1"`},
		{`require "date"; if currentdate "fortnight" "1" { keep; }`, `1:32: unknown date part "fortnight"`},
		{`require "date"; if currentdate :zone "CET" "year" "1" { keep; }`, `1:38: :zone must be "+hhmm"`},
		{`require ["date", "index"]; if date :last "date" "year" "1" { keep; }`, `:last needs :index`},
		{`require "envelope"; if envelope "cc" "x" { keep; }`, `1:33: unknown envelope part "cc"`},
		{`require "editheader"; addheader "Bad Name" "x";`, `1:33: invalid header field name "Bad Name"`},
		{`require "vacation"; vacation :days 1 :seconds 5 "x";`, `tag :seconds needs require "vacation-seconds"`},
		{`if header :is ["a", 5] "b" { keep; }`, `1:21: expected a string in the list, found number`},
		{`if size :over 99999999999999999999 { keep; }`, `1:15: number too large`},
		{`if size :over 20000000000G { keep; }`, `1:15: number too large`},
		{`"lonely";`, `1:1: unexpected string`},
		{"reject text: x\nfoo\n.\n;", `1:8: "text:" must be followed by a line break`},
		{"require \"reject\"; reject text:\nfoo\n", `1:26: unterminated "text:" string`},
		{`keep; /* open`, `1:7: unterminated comment`},
		{`keep "x`, `1:6: unterminated string`},
		{`keep; @`, `1:7: unexpected character '@'`},
		{`require "encoded-character"; if header :is "a" "${unicode:D800}" { keep; }`, `invalid unicode character`},
		{`if header :is "a" "b" { keep; } else keep;`, `1:38: unexpected "keep": command "else" takes no test`},
		{`if header :is "a" "b" :is { keep; }`, `1:23: tag :is after the positional arguments`},
		{`require ["variables", "reject"]; reject "${foo.bar}";`, `1:41: unknown variable namespace "foo"`},
		{`require ["variables"]; set "global.x" "1";`, `1:28: unknown variable namespace "global"`},
		{`require ["imap4flags"]; setflag "var" "\\Seen";`, `a variable name needs require "variables"`},
	}
	for _, c := range cases {
		if c.want == "" {
			continue
		}
		_, err := Compile("t.sieve", []byte(c.src), Options{})
		if err == nil {
			t.Errorf("%s: compiled, want error %q", c.src, c.want)
			continue
		}
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%s: error %T is not *Error", c.src, err)
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "t.sieve") {
			t.Errorf("%s:\n got %q\nwant %q", c.src, err, c.want)
		}
	}
}

func TestCompileLimits(t *testing.T) {
	t.Parallel()
	if _, err := Compile("big", make([]byte, 100), Options{MaxScriptSize: 99}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("size: %v", err)
	}
	deep := strings.Repeat("if true {", 40) + strings.Repeat("}", 40)
	if _, err := Compile("deep", []byte(deep), Options{}); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("depth: %v", err)
	}
	deepTest := "if " + strings.Repeat("not ", 40) + "true { keep; }"
	if _, err := Compile("deep", []byte(deepTest), Options{}); err == nil || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("test depth: %v", err)
	}
	if _, err := Compile("ok", []byte(strings.Repeat("if true {", 10)+strings.Repeat("}", 10)), Options{}); err != nil {
		t.Errorf("moderate depth: %v", err)
	}
	if _, err := Compile("ext", []byte(`require "vacation";`), Options{Extensions: []string{"fileinto"}}); err == nil {
		t.Error("an extension outside Options.Extensions compiled")
	}
}

// Run-time limits: actions, redirects, steps.
func TestRunLimits(t *testing.T) {
	t.Parallel()
	msg := func() *Message { return NewMessage(crlf("Subject: x\n\nb\n"), nil, Envelope{}) }
	var b strings.Builder
	b.WriteString("require \"fileinto\";\n")
	for i := range 200 {
		b.WriteString("fileinto \"box" + strings.Repeat("x", i) + "\";\n")
	}
	s, err := Compile("many", []byte(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), msg(), Env{}); err == nil || !strings.Contains(err.Error(), "too many actions") {
		t.Errorf("actions: %v", err)
	}
	var r strings.Builder
	for i := range 20 {
		r.WriteString("redirect \"u" + strings.Repeat("x", i) + "@example.net\";\n")
	}
	s, _ = Compile("redirects", []byte(r.String()), Options{})
	res, err := s.Run(context.Background(), msg(), Env{})
	if err == nil || !strings.Contains(err.Error(), "many:") && !strings.Contains(err.Error(), "too many redirects") {
		t.Errorf("redirects: %v", err)
	}
	if got := summaries(res); len(got) != 1 || got[0] != "keep implicit" {
		t.Errorf("redirects: actions after error %q", got)
	}
	s, _ = Compile("steps", []byte(strings.Repeat("if true { }\n", 50)), Options{MaxSteps: 60})
	if _, err := s.Run(context.Background(), msg(), Env{}); err == nil || !strings.Contains(err.Error(), "too many steps") {
		t.Errorf("steps: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, _ = Compile("ctx", []byte(strings.Repeat("if true { }\n", 100)), Options{})
	if _, err := s.Run(ctx, msg(), Env{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// An include chain that would repeat work exponentially stops at MaxSteps.
func TestIncludeFanOut(t *testing.T) {
	t.Parallel()
	env := Env{Include: func(ctx context.Context, name string, global bool) ([]byte, error) {
		if len(name) >= 8 {
			return []byte(`keep;`), nil
		}
		return []byte(`require "include"; include "` + name + `a"; include "` + name + `a";`), nil
	}}
	s, err := Compile("fan", []byte(`require "include"; include "a";`), Options{MaxSteps: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), NewMessage(crlf("Subject: x\n\nb\n"), nil, Envelope{}), env); err == nil ||
		!strings.Contains(err.Error(), "too many steps") {
		t.Errorf("fan-out: %v", err)
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pat, text string
		fold, ok  bool
		caps      string
	}{
		{"*", "", false, true, "|"},
		{"", "", false, true, ""},
		{"", "a", false, false, ""},
		{"a*", "abc", false, true, "abc|bc"},
		{"*c", "abc", false, true, "abc|ab"},
		{"a?c", "aéc", false, true, "aéc|é"},
		{"A*B*C", "axxbyyc", true, true, "axxbyyc|xx|yy"},
		{"A*B*C", "axxbyyc", false, false, ""},
		{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 5000), false, false, ""},
		{"[*] *", "[acme-users] [fwd] version 1.0 is out", false, true, "[acme-users] [fwd] version 1.0 is out|acme-users|[fwd] version 1.0 is out"},
		{"coyote@**.com", "coyote@ACME.Example.COM", true, true, "coyote@ACME.Example.COM||ACME.Example"},
		{`\\*`, `\x`, false, true, `\x|x`},
		{`a\`, `a\`, false, true, `a\`},
		{"*.*", "abc", false, false, ""},
		{"??", "a", false, false, ""},
		{"*?b*", "aab", false, true, "aab|a|a|"},
		{"a*?", "ab", false, true, "ab||b"},
		{"*??", "xyz", false, true, "xyz|x|y|z"},
	}
	for _, c := range cases {
		budget := int64(1 << 30)
		ok, caps := glob(c.pat, c.text, c.fold, &budget)
		if ok != c.ok || ok && strings.Join(caps, "|") != c.caps {
			t.Errorf("glob(%q, %q) = %v %q, want %v %q", c.pat, c.text, ok, strings.Join(caps, "|"), c.ok, c.caps)
		}
	}
}

func TestNumericComparator(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{{"10", "9", 1}, {"007", "7", 0}, {"x", "99999999999999999999999", 1}, {"x", "y", 0}, {"3abc", "3", 0}, {"", "0", 1}} {
		if got := compareNum(c.a, c.b); got != c.want {
			t.Errorf("compareNum(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// BenchmarkGlobPathological shows :matches stays linear-ish where a
// backtracking matcher would take exponential time.
func BenchmarkGlobPathological(b *testing.B) {
	text := strings.Repeat("a", 64<<10)
	pattern := "*" + strings.Repeat("a?", 2000) + "b*"
	for b.Loop() {
		budget := int64(256 << 20)
		glob("*a*a*a*a*a*a*a*a*a*b", text, true, &budget)
		glob(pattern, text, true, &budget)
	}
}

// A pattern whose '?' segments need quadratic work fails the run with an
// error once the budget is spent, instead of running for minutes.
func TestMatchBudget(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("a", 200<<10)
	pattern := "*" + strings.Repeat("a?", 20000) + "b*"
	src := "require \"body\";\nif body :raw :matches \"" + pattern + "\" { discard; }"
	s, err := Compile("budget", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Run(context.Background(), NewMessage([]byte("Subject: x\r\n\r\n"+body), nil, Envelope{}), Env{})
	if err == nil || !strings.Contains(err.Error(), "too much work") {
		t.Errorf("err = %v", err)
	}
	// The same shape, small, still matches.
	s, _ = Compile("small", []byte("require \"body\";\nif body :raw :matches \"*a?a?b*\" { discard; }"), Options{})
	res, err := s.Run(context.Background(), NewMessage([]byte("Subject: x\r\n\r\nxxaxaxbxx"), nil, Envelope{}), Env{})
	if err != nil || summaries(res)[0] != "discard" {
		t.Errorf("small: %v %v", err, summaries(res))
	}
}

// Variable values are cut at MaxVarLen on a character boundary (RFC 5229 3).
func TestVariableTruncation(t *testing.T) {
	t.Parallel()
	s, err := Compile("v", []byte(`require ["variables", "reject"]; set "a" "ééé"; set "b" "${a}${a}${a}"; reject "${b}";`),
		Options{MaxVarLen: 5})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run(context.Background(), NewMessage(crlf("Subject: x\n\nb\n"), nil, Envelope{}), Env{})
	if err != nil || res.Actions[0].Reason != "éé" {
		t.Errorf("got %q, %v", res.Actions[0].Reason, err)
	}
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"€€", 4, "€"}, {"\xff\xff", 1, "\xff"}} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
