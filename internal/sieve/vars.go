package sieve

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// decodeEncodedChars replaces "${hex:...}" and "${unicode:...}" (RFC 5228
// 2.4.2.4). A malformed encoding is left as written, as the RFC says; a
// well-formed ${unicode:} naming a surrogate or a value above U+10FFFF is an
// error.
func decodeEncodedChars(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.IndexByte(rest, '}')
		colon := strings.IndexByte(rest, ':')
		if j < 0 || colon < 0 || colon > j {
			b.WriteString("${")
			s = rest
			continue
		}
		kind := strings.ToLower(strings.TrimSpace(rest[:colon]))
		body := rest[colon+1 : j]
		dec, ok, err := decodeEncoded(kind, body)
		if err != nil {
			return "", err
		}
		if !ok {
			b.WriteString("${")
			s = rest
			continue
		}
		b.WriteString(dec)
		s = rest[j+1:]
	}
}

func decodeEncoded(kind, body string) (string, bool, error) {
	fields := strings.Fields(body)
	if kind != "hex" && kind != "unicode" || len(fields) == 0 {
		return "", false, nil
	}
	var b strings.Builder
	for _, f := range fields {
		n, err := strconv.ParseUint(f, 16, 32)
		if err != nil || len(f) > 8 {
			return "", false, nil
		}
		if kind == "hex" {
			if len(f) > 2 {
				return "", false, nil
			}
			b.WriteByte(byte(n))
			continue
		}
		if n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return "", false, fmt.Errorf("invalid unicode character ${unicode:%s}", f)
		}
		b.WriteRune(rune(n))
	}
	return b.String(), true, nil
}

// validVarName reports whether s is a variable name "set" may assign (RFC
// 5229 3: identifier, or namespace.identifier such as global.x).
func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" || !isIdentStart(part[0]) {
			return false
		}
		for i := 1; i < len(part); i++ {
			if !isIdentChar(part[i]) {
				return false
			}
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// truncate cuts s to at most n bytes on a character boundary (RFC 5229 3
// allows truncation of long values).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// expand substitutes ${name} and ${N} references (RFC 5229 3). Unknown
// variables expand to the empty string; text that is not a valid reference
// stays as written; references are not expanded recursively. The result is
// cut at limit bytes.
func expand(s string, lookup func(name string) string, limit int) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		if b.Len() > limit {
			return truncate(b.String(), limit)
		}
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return truncate(b.String(), limit)
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		j := strings.IndexByte(rest, '}')
		if j >= 0 {
			name := rest[:j]
			if isDigits(name) || validVarName(name) {
				b.WriteString(lookup(strings.ToLower(name)))
				s = rest[j+1:]
				continue
			}
		}
		b.WriteString("${")
		s = rest
	}
}

// applyModifiers applies "set" modifiers in precedence order (RFC 5229 4.1):
// :lower/:upper (40), :lowerfirst/:upperfirst (30), :quotewildcard (20),
// :encodeurl (15, RFC 5435 6), :length (10).
func applyModifiers(n *cnode, v string) string {
	switch {
	case n.has("lower"):
		v = strings.ToLower(v)
	case n.has("upper"):
		v = strings.ToUpper(v)
	}
	if v != "" {
		r, w := utf8.DecodeRuneInString(v)
		switch {
		case n.has("lowerfirst"):
			v = string(unicode.ToLower(r)) + v[w:]
		case n.has("upperfirst"):
			v = string(unicode.ToUpper(r)) + v[w:]
		}
	}
	if n.has("quotewildcard") {
		var b strings.Builder
		for _, r := range v {
			if r == '*' || r == '?' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		v = b.String()
	}
	if n.has("encodeurl") {
		v = encodeURL(v)
	}
	if n.has("length") {
		v = strconv.Itoa(utf8.RuneCountInString(v))
	}
	return v
}

// encodeURL percent-encodes all but RFC 3986 unreserved characters (RFC 5435 6).
func encodeURL(s string) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}
