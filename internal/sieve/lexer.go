package sieve

import (
	"fmt"
	"strings"
)

// Pos is a position in a script: 1-based line and column (columns count bytes).
type Pos struct {
	Line, Col int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a compile or run-time error at a position of a script. Its text names
// the script, the position and what is wrong, and nothing about the server, so it
// can be shown to the script's owner (ManageSieve, webmail).
type Error struct {
	Script string
	Pos    Pos
	Msg    string
}

func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Script, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.Script, e.Pos.Line, e.Pos.Col, e.Msg)
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tTag
	tNumber
	tString
	tLBracket
	tRBracket
	tComma
	tSemicolon
	tLBrace
	tRBrace
	tLParen
	tRParen
)

func (k tokKind) String() string {
	switch k {
	case tEOF:
		return "end of script"
	case tIdent:
		return "identifier"
	case tTag:
		return "tag"
	case tNumber:
		return "number"
	case tString:
		return "string"
	case tLBracket:
		return `"["`
	case tRBracket:
		return `"]"`
	case tComma:
		return `","`
	case tSemicolon:
		return `";"`
	case tLBrace:
		return `"{"`
	case tRBrace:
		return `"}"`
	case tLParen:
		return `"("`
	case tRParen:
		return `")"`
	}
	return "token"
}

type token struct {
	kind tokKind
	pos  Pos
	text string // identifier / tag name (lower-cased, without ':'), string value
	num  uint64
}

// lexer splits a script into tokens (RFC 5228 8.1). It works on bytes and never
// looks back, so its cost is linear in the script.
type lexer struct {
	src  []byte
	i    int
	line int
	col  int
	name string
}

func newLexer(name string, src []byte) *lexer {
	return &lexer{src: src, line: 1, col: 1, name: name}
}

func (l *lexer) errf(p Pos, format string, a ...any) error {
	return &Error{Script: l.name, Pos: p, Msg: fmt.Sprintf(format, a...)}
}

func (l *lexer) pos() Pos { return Pos{l.line, l.col} }

func (l *lexer) advance() byte {
	c := l.src[l.i]
	l.i++
	if c == '\n' {
		l.line++
		l.col = 1
	} else {
		l.col++
	}
	return c
}

func (l *lexer) peekAt(off int) byte {
	if l.i+off < len(l.src) {
		return l.src[l.i+off]
	}
	return 0
}

// skip passes white space and comments (RFC 5228 2.3).
func (l *lexer) skip() error {
	for l.i < len(l.src) {
		c := l.src[l.i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			l.advance()
		case c == '#':
			for l.i < len(l.src) && l.src[l.i] != '\n' {
				l.advance()
			}
		case c == '/' && l.peekAt(1) == '*':
			p := l.pos()
			l.advance()
			l.advance()
			for {
				if l.i >= len(l.src) {
					return l.errf(p, "unterminated comment")
				}
				if l.src[l.i] == '*' && l.peekAt(1) == '/' {
					l.advance()
					l.advance()
					break
				}
				l.advance()
			}
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.i >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	c := l.src[l.i]
	if k := punct(c); k != tEOF {
		l.advance()
		return token{kind: k, pos: p}, nil
	}
	switch {
	case c == '"':
		s, err := l.quoted(p)
		return token{kind: tString, pos: p, text: s}, err
	case c == ':':
		l.advance()
		if l.i >= len(l.src) || !isIdentStart(l.src[l.i]) {
			return token{}, l.errf(p, "a tag needs a name after ':'")
		}
		return token{kind: tTag, pos: p, text: l.ident()}, nil
	case c >= '0' && c <= '9':
		n, err := l.number(p)
		return token{kind: tNumber, pos: p, num: n}, err
	case isIdentStart(c):
		id := l.ident()
		if id == "text" && l.i < len(l.src) && l.src[l.i] == ':' {
			l.advance()
			s, err := l.multiline(p)
			return token{kind: tString, pos: p, text: s}, err
		}
		return token{kind: tIdent, pos: p, text: id}, nil
	}
	return token{}, l.errf(p, "unexpected character %q", rune(c))
}

// ident reads an identifier; identifiers are case-insensitive (RFC 5228 2.9).
func (l *lexer) ident() string {
	start := l.i
	for l.i < len(l.src) && isIdentChar(l.src[l.i]) {
		l.advance()
	}
	return strings.ToLower(string(l.src[start:l.i]))
}

// number reads a number with an optional quantifier K, M or G (RFC 5228 2.4.1).
// Numbers must fit 64 bits unsigned; bigger ones are an error, not a wrap.
func (l *lexer) number(p Pos) (uint64, error) {
	var n uint64
	for l.i < len(l.src) && l.src[l.i] >= '0' && l.src[l.i] <= '9' {
		d := uint64(l.advance() - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, l.errf(p, "number too large")
		}
		n = n*10 + d
	}
	var mul uint64 = 1
	if l.i < len(l.src) {
		switch l.src[l.i] {
		case 'K', 'k':
			mul = 1 << 10
		case 'M', 'm':
			mul = 1 << 20
		case 'G', 'g':
			mul = 1 << 30
		}
		if mul > 1 {
			l.advance()
		}
	}
	if n > ^uint64(0)/mul {
		return 0, l.errf(p, "number too large")
	}
	if l.i < len(l.src) && isIdentChar(l.src[l.i]) {
		return 0, l.errf(l.pos(), "unexpected character %q after number", rune(l.src[l.i]))
	}
	return n * mul, nil
}

// quoted reads a quoted string (RFC 5228 2.4.2): "\\" and "\"" are escapes; a
// backslash before any other character stands for that character.
func (l *lexer) quoted(p Pos) (string, error) {
	l.advance()
	var b strings.Builder
	for {
		if l.i >= len(l.src) {
			return "", l.errf(p, "unterminated string")
		}
		c := l.advance()
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if l.i >= len(l.src) {
				return "", l.errf(p, "unterminated string")
			}
			b.WriteByte(l.advance())
		default:
			b.WriteByte(c)
		}
	}
}

// multiline reads the rest of a "text:" string (RFC 5228 2.4.2): optional white
// space or a hash comment up to the line end, then lines up to one holding just
// ".", with a leading ".." unstuffed to ".". Line ends are returned as CRLF.
func (l *lexer) multiline(p Pos) (string, error) {
	for l.i < len(l.src) && (l.src[l.i] == ' ' || l.src[l.i] == '\t') {
		l.advance()
	}
	if l.i < len(l.src) && l.src[l.i] == '#' {
		for l.i < len(l.src) && l.src[l.i] != '\n' {
			l.advance()
		}
	}
	if l.i < len(l.src) && l.src[l.i] == '\r' {
		l.advance()
	}
	if l.i >= len(l.src) || l.src[l.i] != '\n' {
		return "", l.errf(p, `"text:" must be followed by a line break`)
	}
	l.advance()
	var b strings.Builder
	for {
		if l.i >= len(l.src) {
			return "", l.errf(p, `unterminated "text:" string (no line with a single ".")`)
		}
		start := l.i
		for l.i < len(l.src) && l.src[l.i] != '\n' {
			l.advance()
		}
		line := strings.TrimSuffix(string(l.src[start:l.i]), "\r")
		if l.i < len(l.src) {
			l.advance()
		} else if line != "." {
			return "", l.errf(p, `unterminated "text:" string (no line with a single ".")`)
		}
		if line == "." {
			return b.String(), nil
		}
		if strings.HasPrefix(line, "..") {
			line = line[1:]
		}
		b.WriteString(line)
		b.WriteString("\r\n")
	}
}

func punct(c byte) tokKind {
	switch c {
	case '[':
		return tLBracket
	case ']':
		return tRBracket
	case ',':
		return tComma
	case ';':
		return tSemicolon
	case '{':
		return tLBrace
	case '}':
		return tRBrace
	case '(':
		return tLParen
	case ')':
		return tRParen
	}
	return tEOF
}
