package store

import (
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// normDomainIDNA is NormDomain as it was before plainLDH: every name through
// idna.Lookup.
func normDomainIDNA(name string) (string, bool) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" || len(name) > 253 {
		return "", false
	}
	a, err := idna.Lookup.ToASCII(strings.ToLower(name))
	if err != nil || !strings.Contains(a, ".") && a != "localhost" {
		return "", false
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
	}
	return a, true
}

// TestNormDomainFastPath checks that skipping idna for plain names changes no
// result: edge cases, then random names over an alphabet that hits every
// branch of plainLDH (hyphens at label edges, "--" at 3-4, upper case, empty
// and long labels, non-ASCII, xn-- labels).
func TestNormDomainFastPath(t *testing.T) {
	t.Parallel()
	cases := []string{
		"example.com", "EXAMPLE.com", "a.b", "localhost", "LocalHost", "com", "a..b", ".a.b", "a.b.",
		"-a.b", "a-.b", "a.-b", "a.b-", "ab--c.d", "xn--exmple-cua.com", "XN--exmple-cua.com", "xn--a.com",
		"a_b.com", "1.2.3.4", "123.com", "exämple.com", "a" + strings.Repeat("b", 62) + ".c",
		"a" + strings.Repeat("b", 63) + ".c", strings.Repeat("a.", 126) + "b", " example.com ", "ex ample.com",
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "z", "0", "9", "-", "-", ".", ".", "A", "Z", "_", "x", "n", "ä", "xn--", "--"}
	for range 200000 {
		var sb strings.Builder
		for n := 1 + r.IntN(14); n > 0; n-- {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		cases = append(cases, sb.String())
	}
	for _, c := range cases {
		want, wantOK := normDomainIDNA(c)
		got, err := NormDomain(c)
		if (err == nil) != wantOK || got != want {
			t.Errorf("NormDomain(%q) = %q, %v; idna says %q, ok=%v", c, got, err, want, wantOK)
		}
	}
}

// BenchmarkNormDomain is the domain of every RCPT and of every MX sender.
func BenchmarkNormDomain(b *testing.B) {
	for _, d := range []string{"remote.example", "Mail.Example.COM", "exämple.com"} {
		b.Run(d, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NormDomain(d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
