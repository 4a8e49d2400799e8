package imapwire

import "unicode/utf8"

// Character classes of RFC 9051 9 (formal syntax). They are functions, not
// lookup tables, so the package has no mutable state.

// IsAtomChar reports whether c is an ATOM-CHAR: any 7-bit CHAR except
// atom-specials ("(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]").
func IsAtomChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	switch c {
	case '(', ')', '{', '%', '*', '"', '\\', ']':
		return false
	}
	return true
}

// isAStringChar: ASTRING-CHAR = ATOM-CHAR / resp-specials.
func isAStringChar(c byte) bool { return c == ']' || IsAtomChar(c) }

// isListChar: list-char = ATOM-CHAR / list-wildcards / resp-specials.
func isListChar(c byte) bool { return c == '%' || c == '*' || isAStringChar(c) }

// isTagChar: tag = 1*<any ASTRING-CHAR except "+">.
func isTagChar(c byte) bool { return c != '+' && isAStringChar(c) }

// isKeywordChar is an ATOM-CHAR that can end a keyword of the grammar: "["
// starts a section (BODY[...]) and "<" a partial, so neither is included.
func isKeywordChar(c byte) bool { return c != '[' && c != '<' && IsAtomChar(c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isQuotable reports whether s can be written as a quoted string (RFC 9051 9,
// quoted): no CR, LF or NUL, and either 7-bit or, with utf8, valid UTF-8.
func isQuotable(s string, utf8ok bool) bool {
	eight := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
		if c >= 0x80 {
			eight = true
		}
	}
	return !eight || (utf8ok && utf8.ValidString(s))
}

func upperASCII(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

// toUpperASCII upper-cases ASCII letters only, without allocating when s is
// already upper-case.
func toUpperASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = upperASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}
