package smtp

import (
	"testing"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ line, verb, arg string }{
		{"EHLO client.example", VerbEHLO, "client.example"},
		{"ehlo   client.example  ", VerbEHLO, "client.example"},
		{"MAIL FROM:<a@b> SIZE=1", VerbMAIL, "FROM:<a@b> SIZE=1"},
		{"StartTLS", VerbSTARTTLS, ""},
		{"STARTTLS x", VerbSTARTTLS, "x"},
		{"QUIT", VerbQUIT, ""},
		{"XYZZY plugh", "XYZZY", "plugh"},
		{"", "", ""},
	} {
		v, a := ParseCommand([]byte(tt.line))
		if v != tt.verb || a != tt.arg {
			t.Errorf("ParseCommand(%q) = %q, %q; want %q, %q", tt.line, v, a, tt.verb, tt.arg)
		}
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, mbox, rest string }{
		{"<a@b.example>", "a@b.example", ""},
		{"<a@b.example> SIZE=10", "a@b.example", " SIZE=10"},
		{"<>", "", ""},
		{"<> BODY=8BITMIME", "", " BODY=8BITMIME"},
		{"a@b.example SIZE=1", "a@b.example", " SIZE=1"},
		{`<"a b>c"@x.example>`, `"a b>c"@x.example`, ""},
		{`<"a\"b"@x.example>`, `"a\"b"@x.example`, ""},
		{"<@relay.example,@r2.example:a@b.example>", "a@b.example", ""},
		{"<Postmaster>", "Postmaster", ""},
	} {
		m, r, err := ParsePath(tt.in)
		if err != nil || m != tt.mbox || r != tt.rest {
			t.Errorf("ParsePath(%q) = %q, %q, %v; want %q, %q", tt.in, m, r, err, tt.mbox, tt.rest)
		}
	}
	for _, in := range []string{"", "<a@b", "<a b@c>", "<a@b>x", "<@relay:", "a<b@c", "<a<b@c>"} {
		if m, r, err := ParsePath(in); err == nil {
			t.Errorf("ParsePath(%q) = %q, %q; want an error", in, m, r)
		}
	}
}

func TestParseMailParams(t *testing.T) {
	t.Parallel()
	m, rep := ParseMailParams(" size=1000 body=8bitmime SMTPUTF8 RET=hdrs ENVID=a+2Bb AUTH=<>", 5000, false)
	if rep != nil {
		t.Fatalf("ParseMailParams: %v", rep)
	}
	if m.Size != 1000 || m.Body != Body8BitMIME || !m.UTF8 || m.Ret != "HDRS" || m.EnvID != "a+b" || m.Auth != "<>" {
		t.Errorf("ParseMailParams = %+v", m)
	}
	for _, tt := range []struct {
		in   string
		code int
	}{
		{"SIZE=5001", 552},
		{"SIZE=-1", 501},
		{"SIZE=x", 501},
		{"SIZE", 501},
		{"BODY=9BIT", 501},
		{"BODY=BINARYMIME", 504},
		{"SMTPUTF8=yes", 555},
		{"RET=ALL", 501},
		{"ENVID=a+zz", 501},
		{"ENVID=", 501},
		{"AUTH=nobody", 501},
		{"REQUIRETLS", 555},
		{"X=1", 555},
		{"=1", 501},
	} {
		if _, rep := ParseMailParams(tt.in, 5000, false); rep == nil || rep.Code != tt.code {
			t.Errorf("ParseMailParams(%q) = %v, want %d", tt.in, rep, tt.code)
		}
	}
}

func TestParseRcptParams(t *testing.T) {
	t.Parallel()
	r, rep := ParseRcptParams(" notify=success,failure ORCPT=RFC822;a+2Bb@x.example")
	if rep != nil {
		t.Fatalf("ParseRcptParams: %v", rep)
	}
	if r.Notify != "SUCCESS,FAILURE" || r.ORcpt != "rfc822;a+b@x.example" {
		t.Errorf("ParseRcptParams = %+v", r)
	}
	for _, in := range []string{"NOTIFY=NEVER,SUCCESS", "NOTIFY=SUCCESS,SUCCESS", "NOTIFY=", "NOTIFY=SOMETIMES", "ORCPT=a@b", "ORCPT=rfc822;", "SIZE=1"} {
		if _, rep := ParseRcptParams(in); rep == nil {
			t.Errorf("ParseRcptParams(%q) accepted", in)
		}
	}
}

func TestDecodeXtext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"abc": "abc", "a+2Bb": "a+b", "+3D": "=", "x+20y": "x y"} {
		if got, err := DecodeXtext(in); err != nil || got != want {
			t.Errorf("DecodeXtext(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"a b", "a=b", "+2", "+2b", "+zz", "\x01"} {
		if got, err := DecodeXtext(in); err == nil {
			t.Errorf("DecodeXtext(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<a@b>", "<>", `<"x>y"@z> A=B`, "<@a:b@c>", "p"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, rest, err := ParsePath(s)
		if err != nil {
			return
		}
		if len(m)+len(rest) > len(s) {
			t.Fatalf("ParsePath(%q) = %q, %q: longer than the input", s, m, rest)
		}
		if rest != "" && rest[0] != ' ' {
			t.Fatalf("ParsePath(%q): parameters %q do not start with a space", s, rest)
		}
	})
}
