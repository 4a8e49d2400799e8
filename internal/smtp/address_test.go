package smtp

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

func TestParseAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in             string
		local, domain  string
		str, key       string
		ascii, literal bool
	}{
		{in: "alice@example.org", local: "alice", domain: "example.org", str: "alice@example.org", key: "alice@example.org", ascii: true},
		{in: "Alice.Liddell@Example.ORG", local: "Alice.Liddell", domain: "Example.ORG", str: "Alice.Liddell@Example.ORG", key: "alice.liddell@example.org", ascii: true},
		{in: "user+tag@example.org", local: "user+tag", domain: "example.org", str: "user+tag@example.org", key: "user+tag@example.org", ascii: true},
		// Quoted local parts may come unquoted; String quotes again.
		{in: "a b@example.org", local: "a b", domain: "example.org", str: `"a b"@example.org`, key: "a b@example.org", ascii: true},
		{in: `"a b"@example.org`, local: "a b", domain: "example.org", str: `"a b"@example.org`, key: "a b@example.org", ascii: true},
		{in: `"a\"b"@example.org`, local: `a"b`, domain: "example.org", str: `"a\"b"@example.org`, key: `a"b@example.org`, ascii: true},
		{in: `a@b@example.org`, local: "a@b", domain: "example.org", str: `"a@b"@example.org`, key: "a@b@example.org", ascii: true},
		{in: "john..doe@example.org", local: "john..doe", domain: "example.org", str: `"john..doe"@example.org`, key: "john..doe@example.org", ascii: true},
		// RFC 6531: UTF-8 local part and U-label domain.
		{in: "用户@例子.广告", local: "用户", domain: "例子.广告", str: "用户@例子.广告", key: "用户@xn--fsqu00a.xn--4rr70v", ascii: false},
		{in: "Jörg@bücher.example", local: "Jörg", domain: "bücher.example", str: "Jörg@bücher.example", key: "jörg@xn--bcher-kva.example", ascii: false},
		{in: "x@[192.0.2.1]", local: "x", domain: "[192.0.2.1]", str: "x@[192.0.2.1]", key: "x@[192.0.2.1]", ascii: true, literal: true},
		{in: "x@[IPv6:2001:db8::1]", local: "x", domain: "[IPv6:2001:db8::1]", str: "x@[IPv6:2001:db8::1]", key: "x@[IPv6:2001:db8::1]", ascii: true, literal: true},
	}
	for _, tt := range tests {
		a, err := ParseAddress(tt.in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tt.in, err)
			continue
		}
		if a.Local != tt.local || a.Domain != tt.domain {
			t.Errorf("ParseAddress(%q) = %q @ %q, want %q @ %q", tt.in, a.Local, a.Domain, tt.local, tt.domain)
		}
		if got := a.String(); got != tt.str {
			t.Errorf("ParseAddress(%q).String() = %q, want %q", tt.in, got, tt.str)
		}
		if got := a.Key(); got != tt.key {
			t.Errorf("ParseAddress(%q).Key() = %q, want %q", tt.in, got, tt.key)
		}
		if a.IsASCII() != tt.ascii {
			t.Errorf("ParseAddress(%q).IsASCII() = %v, want %v", tt.in, a.IsASCII(), tt.ascii)
		}
		if a.IsLiteral() != tt.literal {
			t.Errorf("ParseAddress(%q).IsLiteral() = %v, want %v", tt.in, a.IsLiteral(), tt.literal)
		}
		// String must parse back to the same address.
		b, err := ParseAddress(a.String())
		if err != nil || b != a {
			t.Errorf("round trip of %q via %q = %+v, %v", tt.in, a.String(), b, err)
		}
	}
}

func TestParseAddressInvalid(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"",
		"alice",
		"@example.org",
		"alice@",
		"alice@example..org",
		"alice@-example.org",
		"alice@example.org.",
		"alice@exa mple.org",
		"alice@exam_ple.org",
		"al\x00ice@example.org",
		"al\rice@example.org",
		"al\nice@example.org",
		"alice@[300.0.0.1]",
		"alice@[IPv6:192.0.2.1]",
		"alice@[192.0.2.1",
		"\xff@example.org",
		strings.Repeat("a", 65) + "@example.org",
		"a@" + strings.Repeat("b", 64) + ".org",
		"a@" + strings.Repeat("b.", 130) + "org",
		`"a"b"@example.org`,
		`"a\"@example.org`,
	} {
		a, err := ParseAddress(in)
		if err == nil {
			t.Errorf("ParseAddress(%q) = %+v, want error", in, a)
			continue
		}
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q) error %v does not wrap ErrBadAddress", in, err)
		}
	}
}

func TestNullAddress(t *testing.T) {
	t.Parallel()
	var a Address
	if !a.IsNull() || a.String() != "" || a.Path() != "<>" || a.Key() != "" {
		t.Errorf("zero Address: IsNull %v String %q Path %q Key %q", a.IsNull(), a.String(), a.Path(), a.Key())
	}
	b, _ := ParseAddress("x@example.org")
	if b.IsNull() || b.Path() != "<x@example.org>" {
		t.Errorf("x@example.org: IsNull %v Path %q", b.IsNull(), b.Path())
	}
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"alice@example.org", `"a b"@x.org`, "用户@例子.广告", "x@[IPv6:::1]", "a@b@c.d", `"\\"@x.y`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if a.Local == "" || a.Domain == "" {
			t.Fatalf("ParseAddress(%q) accepted an empty part: %+v", s, a)
		}
		// Whatever parses must round-trip through its String form.
		b, err := ParseAddress(a.String())
		if err != nil {
			t.Fatalf("ParseAddress(%q).String() = %q does not parse: %v", s, a.String(), err)
		}
		if b != a {
			t.Fatalf("round trip of %q: %+v != %+v", s, b, a)
		}
		if strings.ContainsAny(a.String(), "\r\n\x00") {
			t.Fatalf("String() of %q contains a line break or NUL: %q", s, a.String())
		}
	})
}

// TestASCIIDomainFastPath: names that skip IDNA must come out exactly as IDNA's
// lookup profile would map them, and be refused exactly when it refuses them.
func TestASCIIDomainFastPath(t *testing.T) {
	for _, d := range []string{
		"example.com", "EXAMPLE.Com", "a-b.example", "mail2.x.y.z", "ab--cd.example",
		"xn--bcher-kva.example", "XN--BCHER-KVA.example", "xn--zz.example", "-a.example",
		"a-.example", "a..b", "example.com.", "a_b.example", "bücher.example", "1.2.3.4",
		"abc-.def", "a.b-", "x", strings.Repeat("a", 64) + ".example",
	} {
		got, gerr := asciiDomain(d)
		// The reference: IDNA first, then the same label checks.
		want, werr := idna.Lookup.ToASCII(d)
		if werr == nil {
			want, werr = asciiDomainChecks(want)
		}
		if (gerr != nil) != (werr != nil) || gerr == nil && got != want {
			t.Errorf("asciiDomain(%q) = %q, %v; IDNA gives %q, %v", d, got, gerr, want, werr)
		}
	}
}

// asciiDomainChecks repeats asciiDomain's checks after IDNA for the test.
func asciiDomainChecks(a string) (string, error) {
	if a == "" || len(a) > MaxDomain || strings.HasSuffix(a, ".") {
		return "", errors.New("bad domain")
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("bad label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", errors.New("bad character")
			}
		}
	}
	return a, nil
}
