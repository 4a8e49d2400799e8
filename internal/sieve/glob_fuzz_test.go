package sieve

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// refGlob is a plain memoised matcher with the same semantics as glob, used
// to check glob's segment-placement shortcut on small inputs.
func refGlob(items []globItem, star []bool, t string) bool {
	type key struct{ i, j int }
	memo := map[key]bool{}
	var m func(i, j int) bool
	m = func(i, j int) bool {
		k := key{i, j}
		if v, ok := memo[k]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(items):
			r = j == len(t)
		case star[i]:
			r = m(i+1, j) || j < len(t) && m(i, j+1)
		case j >= len(t):
			r = false
		case items[i].any:
			_, w := utf8.DecodeRuneInString(t[j:])
			r = m(i+1, j+w)
		default:
			r = t[j] == items[i].lit && m(i+1, j+1)
		}
		memo[k] = r
		return r
	}
	return m(0, 0)
}

func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"*", ""}, {"a*b?c", "axxbyc"}, {"[*] *", "[a] b"}, {"coyote@**.com", "coyote@ACME.Example.COM"},
		{`\*?\?`, "*é?"}, {"*a*a*b", "aaaaab"}, {"?*?", "é"}, {"*?b*", "aab"},
	} {
		f.Add(s[0], s[1], false)
		f.Add(s[0], s[1], true)
	}
	f.Fuzz(func(t *testing.T, pattern, text string, fold bool) {
		if len(pattern) > 64 || len(text) > 128 {
			return
		}
		// The pattern as items, stars marked, for the reference matcher.
		var items []globItem
		var star []bool
		for i := 0; i < len(pattern); i++ {
			c := pattern[i]
			switch {
			case c == '\\' && i+1 < len(pattern):
				i++
				items, star = append(items, globItem{lit: pattern[i]}), append(star, false)
			case c == '*':
				items, star = append(items, globItem{}), append(star, true)
			case c == '?':
				items, star = append(items, globItem{any: true}), append(star, false)
			default:
				items, star = append(items, globItem{lit: c}), append(star, false)
			}
		}
		rt := text
		if fold {
			rt = asciiLower(text)
			for i := range items {
				if c := items[i].lit; c >= 'A' && c <= 'Z' {
					items[i].lit = c + 'a' - 'A'
				}
			}
		}
		budget := int64(1 << 30)
		ok, caps := glob(pattern, text, fold, &budget)
		if want := refGlob(items, star, rt); ok != want {
			t.Fatalf("glob(%q, %q, %v) = %v, reference says %v", pattern, text, fold, ok, want)
		}
		if !ok {
			return
		}
		// Captures: ${0} is the text, then one per wildcard, and the text is
		// the captures and literals put back together.
		if caps[0] != text {
			t.Fatalf("${0} = %q", caps[0])
		}
		var b strings.Builder
		ci := 1
		for i, it := range items {
			if star[i] || it.any {
				if ci >= len(caps) {
					t.Fatalf("too few captures %q", caps)
				}
				b.WriteString(caps[ci])
				ci++
				continue
			}
			b.WriteByte(it.lit)
		}
		if ci != len(caps) {
			t.Fatalf("captures %q for %d wildcards", caps, ci-1)
		}
		got := b.String()
		if fold {
			got = asciiLower(got)
		}
		if got != rt {
			t.Fatalf("captures %q rebuild %q, not %q", caps, got, rt)
		}
	})
}
