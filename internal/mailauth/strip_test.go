package mailauth_test

import (
	"bytes"
	"strings"
	"testing"

	"gannet/internal/mailauth"
)

func TestStripResults(t *testing.T) {
	t.Parallel()
	body := "\r\nbody line\r\nAuthentication-Results: mx.gannet.test; spf=pass\r\n"
	for _, tc := range []struct {
		name, in, want string
	}{
		{"none present", "From: a@x.test\r\nSubject: hi\r\n", "From: a@x.test\r\nSubject: hi\r\n"},
		{"ours removed",
			"Authentication-Results: mx.gannet.test; spf=pass smtp.mailfrom=a@x.test\r\nFrom: a@x.test\r\n",
			"From: a@x.test\r\n"},
		{"others kept",
			"Authentication-Results: mx.other.test; spf=pass\r\nFrom: a@x.test\r\n",
			"Authentication-Results: mx.other.test; spf=pass\r\nFrom: a@x.test\r\n"},
		{"mixed, order kept",
			"Received: from a\r\nAuthentication-Results: mx.other.test; dkim=pass\r\nAuthentication-Results: mx.gannet.test; dmarc=pass\r\nReceived: from b\r\nFrom: a@x.test\r\n",
			"Received: from a\r\nAuthentication-Results: mx.other.test; dkim=pass\r\nReceived: from b\r\nFrom: a@x.test\r\n"},
		{"case-insensitive name and id",
			"authentication-results: MX.Gannet.Test; spf=pass\r\nFrom: a@x.test\r\n",
			"From: a@x.test\r\n"},
		{"folded with continuation lines",
			"Authentication-Results: mx.gannet.test;\r\n\tspf=pass;\r\n dkim=pass\r\nFrom: a@x.test\r\n",
			"From: a@x.test\r\n"},
		{"id on the continuation line",
			"Authentication-Results:\r\n mx.gannet.test; spf=pass\r\nFrom: a@x.test\r\n",
			"From: a@x.test\r\n"},
		{"leading comment",
			"Authentication-Results: (forged (nested)) mx.gannet.test; spf=pass\r\nFrom: a@x.test\r\n",
			"From: a@x.test\r\n"},
		{"quoted id", "Authentication-Results: \"mx.gannet.test\"; spf=pass\r\nFrom: a@x.test\r\n", "From: a@x.test\r\n"},
		{"trailing dot", "Authentication-Results: mx.gannet.test.; spf=pass\r\nFrom: a@x.test\r\n", "From: a@x.test\r\n"},
		{"with version", "Authentication-Results: mx.gannet.test 1; spf=pass\r\nFrom: a@x.test\r\n", "From: a@x.test\r\n"},
		{"no results", "Authentication-Results: mx.gannet.test; none\r\nFrom: a@x.test\r\n", "From: a@x.test\r\n"},
		{"space before colon", "Authentication-Results : mx.gannet.test; spf=pass\r\nFrom: a@x.test\r\n", "From: a@x.test\r\n"},
		{"subdomain of ours is not ours",
			"Authentication-Results: evil.mx.gannet.test; spf=pass\r\n",
			"Authentication-Results: evil.mx.gannet.test; spf=pass\r\n"},
		{"prefix of ours is not ours",
			"Authentication-Results: mx.gannet.testing; spf=pass\r\n",
			"Authentication-Results: mx.gannet.testing; spf=pass\r\n"},
		{"id in a comment only",
			"Authentication-Results: other.test (mx.gannet.test); spf=pass\r\n",
			"Authentication-Results: other.test (mx.gannet.test); spf=pass\r\n"},
		{"similar field name", "X-Authentication-Results: mx.gannet.test; spf=pass\r\n", "X-Authentication-Results: mx.gannet.test; spf=pass\r\n"},
		{"bare LF", "Authentication-Results: mx.gannet.test; spf=pass\nFrom: a@x.test\n", "From: a@x.test\n"},
		{"last field without newline", "From: a@x.test\r\nAuthentication-Results: mx.gannet.test; spf=pass", "From: a@x.test\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, b := range []string{body, ""} {
				if b != "" && !strings.HasSuffix(tc.in, "\n") {
					continue
				}
				got := mailauth.StripResults([]byte(tc.in+b), hostname)
				if string(got) != tc.want+b {
					t.Errorf("StripResults(%q) =\n%q, want\n%q", tc.in+b, got, tc.want+b)
				}
			}
		})
	}
}

func TestStripResultsSeveralIDs(t *testing.T) {
	t.Parallel()
	in := "Authentication-Results: node1.gannet.test; spf=pass\r\nAuthentication-Results: node2.gannet.test; spf=pass\r\nAuthentication-Results: far.test; spf=pass\r\n\r\nx"
	got := mailauth.StripResults([]byte(in), "node1.gannet.test", "node2.gannet.test")
	if want := "Authentication-Results: far.test; spf=pass\r\n\r\nx"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzStripResults checks StripResults' invariants on arbitrary input: it
// only ever removes whole header fields that claim our authserv-id, keeps
// everything else byte for byte, and is idempotent.
func FuzzStripResults(f *testing.F) {
	f.Add([]byte("Authentication-Results: mx.gannet.test; spf=pass\r\nFrom: a@x.test\r\n\r\nbody\r\n"))
	f.Add([]byte("X: 1\r\nAuthentication-Results: (c) \"mx.gannet.test\"; none\r\n folded\r\nY: 2\n\nAuthentication-Results: mx.gannet.test\r\n"))
	f.Add([]byte(" leading\r\nAuthentication-Results:mx.gannet.test\r\n\r\n"))
	f.Add([]byte("Authentication-Results: \"mx.gannet.test"))
	f.Add([]byte("Authentication-Results: (unterminated mx.gannet.test; spf=pass\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		out := mailauth.StripResults(in, hostname)
		if !bytes.Equal(in, orig) {
			t.Fatal("input modified")
		}
		if again := mailauth.StripResults(out, hostname); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n%q\n%q", out, again)
		}
		// Only Authentication-Results fields may differ: with all of them
		// removed (by this simpler, independent splitter) both are equal.
		if a, b := withoutAR(in), withoutAR(out); !bytes.Equal(a, b) {
			t.Fatalf("a field other than Authentication-Results changed:\n%q\n%q", a, b)
		}
		// A message that does not mention our name comes back unchanged.
		if !bytes.Contains(bytes.ToLower(in), []byte(hostname)) && !bytes.Equal(in, out) {
			t.Fatalf("changed a message that does not claim our id:\n%q\n%q", in, out)
		}
	})
}

// withoutAR removes every Authentication-Results field from the header.
func withoutAR(raw []byte) []byte {
	var out []byte
	skipping := false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line = raw[:i+1]
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			break
		}
		raw = raw[len(line):]
		if len(out) > 0 || skipping {
			if line[0] == ' ' || line[0] == '\t' {
				if !skipping {
					out = append(out, line...)
				}
				continue
			}
		}
		name, _, _ := bytes.Cut(line, []byte(":"))
		skipping = strings.EqualFold(strings.TrimRight(string(name), " \t"), "Authentication-Results")
		if !skipping {
			out = append(out, line...)
		}
	}
	return append(out, raw...)
}
