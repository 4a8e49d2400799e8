package sieve

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Comparators (RFC 4790 9.3-9.5, RFC 5228 2.7.3) and match types (RFC 5228
// 2.7.1, RFC 5231). Every match runs in time linear in the text for a given
// key, so no key can make a test hang (docs/ARCHITECTURE.md: bounded work for
// any input).

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// numPrefix returns the leading digits of s without leading zeros, and false
// when s does not start with a digit: such strings compare as positive
// infinity under i;ascii-numeric (RFC 4790 9.1.1).
func numPrefix(s string) (string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return "", false
	}
	d := strings.TrimLeft(s[:i], "0")
	return d, true
}

// compareNum orders two strings under i;ascii-numeric.
func compareNum(a, b string) int {
	da, oka := numPrefix(a)
	db, okb := numPrefix(b)
	switch {
	case !oka && !okb:
		return 0
	case !oka:
		return 1
	case !okb:
		return -1
	}
	if len(da) != len(db) {
		if len(da) < len(db) {
			return -1
		}
		return 1
	}
	return strings.Compare(da, db)
}

// compare orders a and b under comparator cmp.
func compare(cmp, a, b string) int {
	switch cmp {
	case "i;ascii-numeric":
		return compareNum(a, b)
	case "i;ascii-casemap":
		return strings.Compare(asciiUpper(a), asciiUpper(b))
	}
	return strings.Compare(a, b)
}

func relation(rel string, c int) bool {
	switch rel {
	case "gt":
		return c > 0
	case "ge":
		return c >= 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	}
	return false
}

// errTooComplex reports a run that used up its comparison budget.
var errTooComplex = errors.New("matching takes too much work (Options.MaxWork)")

// matchOne tests one value against one key. For :matches it also returns the
// text each wildcard matched, for match variables (RFC 5229 3.2). Every call
// draws on *budget, which bounds the comparison work of a whole run; when it
// is used up the result is errTooComplex.
func matchOne(n *cnode, value, key string, budget *int64) (bool, []string, error) {
	*budget -= int64(len(value) + len(key))
	if *budget < 0 {
		return false, nil, errTooComplex
	}
	ok, caps := matchOne0(n, value, key, budget)
	if *budget < 0 {
		return false, nil, errTooComplex
	}
	return ok, caps, nil
}

func matchOne0(n *cnode, value, key string, budget *int64) (bool, []string) {
	switch n.mt {
	case "is":
		return compare(n.cmp, value, key) == 0, nil
	case "value":
		return relation(n.rel, compare(n.cmp, value, key)), nil
	case "contains":
		if n.cmp == "i;ascii-casemap" {
			return strings.Contains(asciiLower(value), asciiLower(key)), nil
		}
		return strings.Contains(value, key), nil
	case "matches":
		return glob(key, value, n.cmp == "i;ascii-casemap", budget)
	}
	return false, nil
}

// matchCount implements :count (RFC 5231 4.2): the number of values compared
// with each key.
func matchCount(n *cnode, count int, keys []string) bool {
	c := strconv.Itoa(count)
	for _, k := range keys {
		if relation(n.rel, compare(n.cmp, c, k)) {
			return true
		}
	}
	return false
}

// globItem is one element of a :matches pattern: a literal byte or a '?'.
type globItem struct {
	lit byte
	any bool
}

// glob matches text against a :matches pattern: '*' is any sequence, '?' one
// character (UTF-8), '\' escapes the next character (RFC 5228 2.7.1).
//
// The pattern is split at '*' into segments; the first is anchored at the
// start, the last at the end, and each middle one is placed at its earliest
// position. Earliest placement is both correct (it leaves the most text for
// what follows) and what RFC 5229 3.2 wants for match variables: each '*'
// matches as little as possible, left to right. There is no backtracking:
// segments without '?' are found with strings.Index, and the character
// comparisons of segments with '?' are charged to *budget, so no pattern can
// make a match run long.
func glob(pattern, text string, fold bool, budget *int64) (bool, []string) {
	var segs [][]globItem
	cur := []globItem{}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			cur = append(cur, globItem{lit: pattern[i]})
		case c == '*':
			segs = append(segs, cur)
			cur = []globItem{}
		case c == '?':
			cur = append(cur, globItem{any: true})
		default:
			cur = append(cur, globItem{lit: c})
		}
	}
	segs = append(segs, cur)
	t := text
	if fold {
		t = asciiLower(text)
		for _, s := range segs {
			for j := range s {
				if c := s[j].lit; c >= 'A' && c <= 'Z' {
					s[j].lit = c + 'a' - 'A'
				}
			}
		}
	}
	// starts[k] is where segment k was placed.
	starts := make([]int, len(segs))
	end, ok := segAt(segs[0], t, 0, budget)
	if !ok {
		return false, nil
	}
	if len(segs) == 1 {
		if end != len(t) {
			return false, nil
		}
		return true, captures(segs, starts, text)
	}
	pos := end
	for k := 1; k < len(segs)-1; k++ {
		s, e, ok := segFind(segs[k], t, pos, budget)
		if !ok {
			return false, nil
		}
		starts[k], pos = s, e
	}
	last := len(segs) - 1
	if lit, ok := literal(segs[last]); ok {
		if len(t)-len(lit) < pos || t[len(t)-len(lit):] != lit {
			return false, nil
		}
		starts[last] = len(t) - len(lit)
		return true, captures(segs, starts, text)
	}
	for s := pos; s <= len(t) && *budget >= 0; s++ {
		if e, ok := segAt(segs[last], t, s, budget); ok && e == len(t) {
			starts[last] = s
			return true, captures(segs, starts, text)
		}
	}
	return false, nil
}

// literal returns a segment without '?' as a string.
func literal(seg []globItem) (string, bool) {
	b := make([]byte, len(seg))
	for i, it := range seg {
		if it.any {
			return "", false
		}
		b[i] = it.lit
	}
	return string(b), true
}

// segFind places a segment at its earliest position at or after pos.
func segFind(seg []globItem, t string, pos int, budget *int64) (start, end int, ok bool) {
	if lit, ok := literal(seg); ok {
		i := strings.Index(t[pos:], lit)
		if i < 0 {
			return 0, 0, false
		}
		return pos + i, pos + i + len(lit), true
	}
	for s := pos; s <= len(t) && *budget >= 0; s++ {
		if e, ok := segAt(seg, t, s, budget); ok {
			return s, e, true
		}
	}
	return 0, 0, false
}

// segAt matches one segment at position s of t and returns where it ends.
func segAt(seg []globItem, t string, s int, budget *int64) (int, bool) {
	*budget -= int64(len(seg)) + 1
	for _, it := range seg {
		if s >= len(t) {
			return 0, false
		}
		if it.any {
			_, w := utf8.DecodeRuneInString(t[s:])
			s += w
			continue
		}
		if t[s] != it.lit {
			return 0, false
		}
		s++
	}
	return s, true
}

// captures lists ${0} (the whole text) and then what each wildcard matched, in
// pattern order (RFC 5229 3.2). Segments have the same length in text and in
// its folded copy, since ASCII case folding keeps byte lengths.
func captures(segs [][]globItem, starts []int, text string) []string {
	out := []string{text}
	pos := 0
	for k, seg := range segs {
		if k > 0 {
			out = append(out, text[pos:starts[k]])
			pos = starts[k]
		}
		for _, it := range seg {
			if it.any {
				_, w := utf8.DecodeRuneInString(text[pos:])
				out = append(out, text[pos:pos+w])
				pos += w
			} else {
				pos++
			}
		}
	}
	return out
}
