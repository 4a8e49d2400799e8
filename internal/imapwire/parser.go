package imapwire

import (
	"bytes"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// Parser reads the arguments of the current command (see Reader.ReadCommand)
// as typed tokens, following RFC 9051 9. Every method first finishes what an
// earlier one left (the unread part of an opened literal, the line after a
// literal), so a handler calls them in grammar order and nothing else. The
// first error sticks: later calls return it until the next command.
type Parser struct {
	r        *Reader
	tag      string
	line     []byte // current line without its line end
	pos      int    // next unread octet of line
	tail     []byte // end of an over-long line (see readLine)
	active   bool   // a command is being read and has not ended or been skipped
	needLine bool   // a literal ended; the command goes on with a line not read yet
	stream   int64  // unread octets of the literal opened with OpenLiteral
	gen      uint64 // invalidates literal readers of earlier literals
	cmdBytes int64  // lines and buffered literals of this command
	depth    int    // open lists
	err      error  // sticky error of this command
	buf      []byte // literal scratch
}

// Literal describes a literal's prefix (RFC 9051 4.3, RFC 7888, RFC 3516).
type Literal struct {
	Size    int64
	NonSync bool // "{n+}": the client sends the data without waiting (RFC 7888)
	Binary  bool // "~{n}" literal8: the data may hold NUL (RFC 3516)
}

func (p *Parser) begin() {
	p.tag = ""
	if cap(p.line) > 16<<10 {
		p.line = nil // don't keep a long line's buffer for the connection's life
	}
	p.line = p.line[:0]
	p.pos = 0
	p.needLine = false
	p.stream = 0
	p.gen++
	p.cmdBytes = 0
	p.depth = 0
	p.err = nil
}

// finish ends the command (End or Skip).
func (p *Parser) finish() {
	p.active = false
	p.needLine = false
	p.stream = 0
	p.gen++
	p.err = nil
	if cap(p.buf) > 64<<10 {
		p.buf = nil // don't keep a big literal's buffer for the connection's life
	}
}

// useTail makes the kept end of an over-long line the current line, so that
// Skip sees the literal it may end with.
func (p *Parser) useTail() {
	p.line = append(p.line[:0], p.tail...)
	p.pos = 0
}

func (p *Parser) fail(kind ErrorKind, text string) error {
	if p.err != nil {
		return p.err
	}
	e := &Error{Kind: kind, Tag: p.tag, Text: text}
	p.err = e
	return e
}

// Fail records a KindSyntax error with text (safe for the client) for a
// command the handler finds malformed, e.g. an unknown FETCH item; the server
// answers it like any other Parser error.
func (p *Parser) Fail(text string) error { return p.fail(KindSyntax, text) }

// Tag returns the current command's tag.
func (p *Parser) Tag() string { return p.tag }

// ready finishes an opened literal and reads the line after a literal.
func (p *Parser) ready() error {
	if p.err != nil {
		return p.err
	}
	if !p.active {
		return p.fail(KindSyntax, "no command in progress")
	}
	if p.stream > 0 {
		if err := p.r.discard(p.stream); err != nil {
			return err
		}
		p.stream = 0
	}
	if p.needLine {
		p.needLine = false
		if err := p.r.readLine(); err != nil {
			if err != errTooLong {
				return err
			}
			p.useTail()
			return p.fail(KindLineTooLong, "command line too long")
		}
		p.cmdBytes += int64(len(p.line))
		if p.cmdBytes > p.r.opts.MaxCommand {
			return p.fail(KindLineTooLong, "command too long")
		}
	}
	return nil
}

// Peek returns the next octet of the current line without consuming it, or
// 0 at the end of the line (and after an error). NUL, which no method
// accepts, also reads as 0.
func (p *Parser) Peek() byte {
	if p.ready() != nil || p.pos >= len(p.line) {
		return 0
	}
	return p.line[p.pos]
}

// AtEnd reports whether the command's arguments are used up (only End may
// follow). It is false after an error.
func (p *Parser) AtEnd() bool { return p.ready() == nil && p.pos >= len(p.line) }

// Accept consumes c if it is next and reports whether it did.
func (p *Parser) Accept(c byte) bool {
	if p.ready() != nil || p.pos >= len(p.line) || p.line[p.pos] != c {
		return false
	}
	p.pos++
	return true
}

// Expect consumes c or fails.
func (p *Parser) Expect(c byte) error {
	if p.Accept(c) {
		return nil
	}
	return p.fail(KindSyntax, "expected "+quoteByte(c))
}

// SP consumes one space.
func (p *Parser) SP() error { return p.Expect(' ') }

// AcceptWord consumes word (an ASCII keyword, case-insensitive) if it is next
// and not followed by another keyword octet, and reports whether it did.
// It is for optional keywords, e.g. "RETURN" in ESEARCH or "NIL".
func (p *Parser) AcceptWord(word string) bool {
	if p.ready() != nil {
		return false
	}
	rest := p.line[p.pos:]
	if len(rest) < len(word) || !equalFoldASCII(rest[:len(word)], word) {
		return false
	}
	if len(rest) > len(word) && isKeywordChar(rest[len(word)]) {
		return false
	}
	p.pos += len(word)
	return true
}

// End checks that the command has no more arguments (its line ends here) and
// finishes it.
func (p *Parser) End() error {
	if err := p.ready(); err != nil {
		return err
	}
	if p.pos != len(p.line) {
		return p.fail(KindSyntax, "unexpected characters at end of command")
	}
	p.finish()
	return nil
}

// take consumes 1*c with ok(c).
func (p *Parser) take(ok func(byte) bool, what string) ([]byte, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	i := p.pos
	for i < len(p.line) && ok(p.line[i]) {
		i++
	}
	if i == p.pos {
		return nil, p.fail(KindSyntax, "expected "+what)
	}
	b := p.line[p.pos:i]
	p.pos = i
	return b, nil
}

// Atom reads an atom (RFC 9051 9: 1*ATOM-CHAR).
func (p *Parser) Atom() (string, error) {
	b, err := p.take(IsAtomChar, "atom")
	return string(b), err
}

// Keyword reads a grammar keyword as upper-case: ATOM-CHARs up to but not
// including "[" or "<", so that "BODY.PEEK[1]<0.10>" yields "BODY.PEEK" and
// leaves the section for the caller (Section).
func (p *Parser) Keyword() (string, error) {
	b, err := p.take(isKeywordChar, "keyword")
	for i := range b {
		b[i] = upperASCII(b[i])
	}
	return intern(b), err
}

// AString reads an astring: atom-like form (ASTRING-CHARs), quoted or
// literal (RFC 9051 9).
func (p *Parser) AString() (string, error) {
	switch p.Peek() {
	case '"':
		return p.quoted()
	case '{':
		return p.literalString()
	}
	b, err := p.take(isAStringChar, "string")
	return string(b), err
}

// String reads a string: quoted or literal (RFC 9051 9).
func (p *Parser) String() (string, error) {
	switch p.Peek() {
	case '"':
		return p.quoted()
	case '{':
		return p.literalString()
	}
	return "", p.fail(KindSyntax, "expected string")
}

// NString reads an nstring: NIL (ok false) or a string.
func (p *Parser) NString() (s string, ok bool, err error) {
	if p.AcceptWord("NIL") {
		return "", false, nil
	}
	s, err = p.String()
	return s, err == nil, err
}

// quoted reads a quoted string at p.pos (RFC 9051 9: quoted, with the
// UTF8-2/3/4 of RFC 9051 and RFC 6855 3 only when UTF-8 is enabled).
func (p *Parser) quoted() (string, error) {
	start := p.pos + 1
	esc, eight := false, false
	for i := start; i < len(p.line); i++ {
		switch c := p.line[i]; {
		case c == '"':
			raw := p.line[start:i]
			if eight {
				if !p.r.opts.UTF8 {
					return "", p.fail(KindSyntax, "8-bit character in quoted string")
				}
				if !utf8.Valid(raw) {
					return "", p.fail(KindSyntax, "invalid UTF-8 in quoted string")
				}
			}
			p.pos = i + 1
			if !esc {
				return string(raw), nil
			}
			return unescape(raw), nil
		case c == '\\':
			i++
			if i == len(p.line) || (p.line[i] != '"' && p.line[i] != '\\') {
				return "", p.fail(KindSyntax, "invalid escape in quoted string")
			}
			esc = true
		case c == '\r' || c == '\n' || c == 0:
			return "", p.fail(KindSyntax, "invalid character in quoted string")
		case c >= 0x80:
			eight = true
		}
	}
	return "", p.fail(KindSyntax, "unterminated quoted string")
}

func unescape(raw []byte) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		if raw[i] == '\\' {
			i++
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// parseLiteral parses exactly "{" number64 ["+"] "}" (RFC 9051 9, RFC 7888).
func parseLiteral(b []byte) (Literal, bool) {
	if len(b) < 3 || b[0] != '{' || b[len(b)-1] != '}' {
		return Literal{}, false
	}
	b = b[1 : len(b)-1]
	var lit Literal
	if n := len(b); n > 0 && b[n-1] == '+' {
		lit.NonSync = true
		b = b[:n-1]
	}
	if len(b) == 0 {
		return Literal{}, false
	}
	for _, c := range b {
		if !isDigit(c) || lit.Size > (math.MaxInt64-int64(c-'0'))/10 {
			return Literal{}, false
		}
		lit.Size = lit.Size*10 + int64(c-'0')
	}
	return lit, true
}

// tailLiteral reports the literal prefix that b ends with, if any.
func tailLiteral(b []byte) (Literal, bool) {
	k := bytes.LastIndexByte(b, '{')
	if k < 0 {
		return Literal{}, false
	}
	lit, ok := parseLiteral(b[k:])
	lit.Binary = ok && k > 0 && b[k-1] == '~'
	return lit, ok
}

// literalAt parses the literal prefix at p.pos, which must end the line.
func (p *Parser) literalAt() (Literal, error) {
	if err := p.ready(); err != nil {
		return Literal{}, err
	}
	b := p.line[p.pos:]
	binary := len(b) > 0 && b[0] == '~'
	if binary {
		b = b[1:]
	}
	lit, ok := parseLiteral(b)
	if !ok {
		if len(b) > 0 && b[0] == '{' {
			return Literal{}, p.fail(KindSyntax, "invalid literal")
		}
		return Literal{}, p.fail(KindSyntax, "expected literal")
	}
	lit.Binary = binary
	return lit, nil
}

func (p *Parser) tooLarge(lit Literal) error {
	if p.err != nil {
		return p.err
	}
	e := &Error{Kind: KindLiteralTooLarge, Tag: p.tag, Text: "literal too large", Literal: lit}
	p.err = e
	return e
}

// nonSyncTooLarge applies Options.MaxNonSync (LITERAL-, RFC 7888 5).
func (p *Parser) nonSyncTooLarge(lit Literal) bool {
	return lit.NonSync && p.r.opts.MaxNonSync > 0 && lit.Size > p.r.opts.MaxNonSync
}

// accept consumes an accepted literal's prefix and asks for its data.
func (p *Parser) accept(lit Literal) error {
	p.pos = len(p.line)
	p.needLine = true
	if !lit.NonSync {
		return p.r.cont()
	}
	return nil
}

// literalString reads a literal (not literal8) into memory.
func (p *Parser) literalString() (string, error) {
	lit, err := p.literalAt()
	if err != nil {
		return "", err
	}
	if lit.Binary {
		return "", p.fail(KindSyntax, "literal8 not allowed here")
	}
	o := &p.r.opts
	if lit.Size > o.MaxLiteral || p.cmdBytes+lit.Size > o.MaxCommand || p.nonSyncTooLarge(lit) {
		return "", p.tooLarge(lit)
	}
	if err := p.accept(lit); err != nil {
		return "", err
	}
	p.cmdBytes += lit.Size
	b, err := p.readLiteralData(lit.Size)
	if err != nil {
		return "", err
	}
	// RFC 9051 9: literal data is CHAR8, which excludes NUL.
	if bytes.IndexByte(b, 0) >= 0 {
		return "", p.fail(KindSyntax, "NUL in literal")
	}
	return string(b), nil
}

// literalChunk is the first buffer for literal data read into memory.
const literalChunk = 4 << 10

// readLiteralData reads n octets of literal data into p.buf, which grows
// with what arrives rather than to the announced size at once: a client
// that announces a large literal and stalls holds only what it sent
// (issue 13, finding 2).
func (p *Parser) readLiteralData(n int64) ([]byte, error) {
	b := p.buf[:0]
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(n, max(literalChunk, 2*int64(cap(b)))))
			copy(nb, b)
			b = nb
		}
		m, err := p.r.br.Read(b[len(b):min(int64(cap(b)), n)])
		b = b[:len(b)+m]
		if err != nil && int64(len(b)) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			p.buf = b[:0]
			return nil, p.r.fatal(err)
		}
	}
	p.buf = b[:0]
	return b, nil
}

// LiteralInfo parses the literal or literal8 prefix at the current position
// without consuming it, sending a continuation request or reading data: a
// handler can look at the size (APPENDLIMIT, quota) before OpenLiteral, or
// refuse and Skip.
func (p *Parser) LiteralInfo() (Literal, error) { return p.literalAt() }

// OpenLiteral consumes a literal or literal8 prefix, sends the continuation
// request for a synchronizing one, and returns a reader of exactly
// Literal.Size octets of data, for APPEND (RFC 9051 6.3.12, RFC 3516).
// A literal larger than max (or refused by Options.MaxNonSync) fails with
// KindLiteralTooLarge before anything is sent or read; max < 0 means no
// limit. The data is not buffered and not checked (it may hold NUL even in
// a plain literal). The reader is valid until the next call on p or its
// Reader, which discards what was not read.
func (p *Parser) OpenLiteral(max int64) (Literal, io.Reader, error) {
	lit, err := p.literalAt()
	if err != nil {
		return Literal{}, nil, err
	}
	if (max >= 0 && lit.Size > max) || p.nonSyncTooLarge(lit) {
		return Literal{}, nil, p.tooLarge(lit)
	}
	if err := p.accept(lit); err != nil {
		return Literal{}, nil, err
	}
	p.stream = lit.Size
	p.gen++
	return lit, &literalReader{p: p, gen: p.gen}, nil
}

// literalReader reads the data of the literal opened by OpenLiteral.
type literalReader struct {
	p   *Parser
	gen uint64
}

func (l *literalReader) Read(b []byte) (int, error) {
	p := l.p
	if p.r.err != nil {
		return 0, p.r.err
	}
	if p.gen != l.gen || p.stream == 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.stream {
		b = b[:p.stream]
	}
	n, err := p.r.br.Read(b)
	p.stream -= int64(n)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, p.r.fatal(err)
	}
	return n, nil
}

// digits reads 1*DIGIT no larger than max.
func (p *Parser) digits(max uint64, what string) (uint64, error) {
	if err := p.ready(); err != nil {
		return 0, err
	}
	i := p.pos
	var n uint64
	for ; i < len(p.line) && isDigit(p.line[i]); i++ {
		d := uint64(p.line[i] - '0')
		if n > (max-d)/10 {
			return 0, p.fail(KindSyntax, what+" out of range")
		}
		n = n*10 + d
	}
	if i == p.pos {
		return 0, p.fail(KindSyntax, "expected "+what)
	}
	p.pos = i
	return n, nil
}

// Number reads a number (RFC 9051 9: 32-bit unsigned).
func (p *Parser) Number() (uint32, error) {
	n, err := p.digits(math.MaxUint32, "number")
	return uint32(n), err
}

// NZNumber reads an nz-number: a number other than 0 (RFC 9051 9).
func (p *Parser) NZNumber() (uint32, error) {
	n, err := p.Number()
	if err == nil && n == 0 {
		return 0, p.fail(KindSyntax, "expected non-zero number")
	}
	return n, err
}

// Number64 reads a number64: at most 2^63-1 (RFC 9051 9), which also bounds
// a mod-sequence-value (RFC 7162 7).
func (p *Parser) Number64() (uint64, error) {
	return p.digits(math.MaxInt64, "number")
}

// SeqSet reads a sequence-set, with "$" for the saved search result (RFC
// 5182 2.1).
func (p *Parser) SeqSet() (NumSet, error) {
	b, err := p.take(isSeqSetChar, "sequence set")
	if err != nil {
		return NumSet{}, err
	}
	ns, ok := parseNumSet(b)
	if !ok {
		return NumSet{}, p.fail(KindSyntax, "invalid sequence set")
	}
	return ns, nil
}

// List reads a parenthesized list, calling item for each element; items are
// separated by one space and the list may be empty. item reads one element
// with the Parser's methods (it may call List again, up to
// Options.MaxDepth).
func (p *Parser) List(item func() error) error {
	if err := p.Expect('('); err != nil {
		return err
	}
	if p.depth >= p.r.opts.MaxDepth {
		return p.fail(KindSyntax, "lists nested too deeply")
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.Accept(')') {
		return nil
	}
	for {
		if err := item(); err != nil {
			return err
		}
		if p.Accept(')') {
			return nil
		}
		if err := p.SP(); err != nil {
			return err
		}
	}
}

// Flag reads a flag: a keyword atom or "\" atom (RFC 9051 9: flag). The
// result keeps the backslash; "\*" is not accepted (it only appears in
// PERMANENTFLAGS responses).
func (p *Parser) Flag() (string, error) {
	if err := p.ready(); err != nil {
		return "", err
	}
	start := p.pos
	p.Accept('\\')
	if _, err := p.take(IsAtomChar, "flag"); err != nil {
		return "", err
	}
	return string(p.line[start:p.pos]), nil
}

// Mailbox reads a mailbox name (RFC 9051 9: mailbox = "INBOX" / astring):
// INBOX in any case is returned as "INBOX" (RFC 9051 5.1); without UTF-8 the
// name is decoded from modified UTF-7 (RFC 3501 5.1.3), with UTF-8 it must be
// valid UTF-8 (RFC 6855 3).
func (p *Parser) Mailbox() (string, error) {
	s, err := p.AString()
	if err != nil {
		return "", err
	}
	return p.mailboxName(s)
}

// ListMailbox reads the pattern of LIST (RFC 9051 9: list-mailbox = 1*list-char
// / string), decoded like Mailbox; "%" and "*" are left for the caller.
func (p *Parser) ListMailbox() (string, error) {
	var s string
	switch p.Peek() {
	case '"':
		s, _ = p.quoted()
	case '{':
		s, _ = p.literalString()
	default:
		b, _ := p.take(isListChar, "mailbox pattern")
		s = string(b)
	}
	if p.err != nil {
		return "", p.err
	}
	if !p.r.opts.UTF8 && !strings.EqualFold(s, "INBOX") {
		if _, err := DecodeMailbox(s); err != nil {
			// Not modified UTF-7: a pattern that matches no mailbox (names
			// never hold control characters), so LIST answers normally
			// with nothing, as for any pattern that matches nothing.
			return NoMatch, nil
		}
	}
	return p.mailboxName(s)
}

// NoMatch is the pattern ListMailbox returns for one that is not valid
// modified UTF-7: no mailbox name contains a NUL.
const NoMatch = "\x00"

func (p *Parser) mailboxName(s string) (string, error) {
	if strings.EqualFold(s, "INBOX") {
		return "INBOX", nil
	}
	if p.r.opts.UTF8 {
		if !utf8.ValidString(s) {
			return "", p.fail(KindSyntax, "mailbox name is not valid UTF-8")
		}
		return s, nil
	}
	d, err := DecodeMailbox(s)
	if err != nil {
		return "", p.fail(KindBadName, "No such mailbox")
	}
	return d, nil
}

// DateTime reads a quoted date-time (RFC 9051 9), as in APPEND.
func (p *Parser) DateTime() (time.Time, error) {
	if p.Peek() != '"' {
		return time.Time{}, p.fail(KindSyntax, "expected date-time")
	}
	s, err := p.quoted()
	if err != nil {
		return time.Time{}, err
	}
	t, err := ParseDateTime(s)
	if err != nil {
		return time.Time{}, p.fail(KindSyntax, "invalid date-time")
	}
	return t, nil
}

// Date reads a date, bare or quoted (RFC 9051 9: date = date-text / DQUOTE
// date-text DQUOTE), as in SEARCH; see ParseDate.
func (p *Parser) Date() (time.Time, error) {
	var s string
	if p.Peek() == '"' {
		s, _ = p.quoted()
	} else {
		b, _ := p.take(isDateChar, "date")
		s = string(b)
	}
	if p.err != nil {
		return time.Time{}, p.err
	}
	t, err := ParseDate(s)
	if err != nil {
		return time.Time{}, p.fail(KindSyntax, "invalid date")
	}
	return t, nil
}

func isDateChar(c byte) bool {
	return isDigit(c) || c == '-' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isSeqSetChar(c byte) bool {
	return isDigit(c) || c == ':' || c == ',' || c == '*' || c == '$'
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if upperASCII(b[i]) != upperASCII(s[i]) {
			return false
		}
	}
	return true
}

func quoteByte(c byte) string {
	switch c {
	case ' ':
		return "SP"
	case '"':
		return `'"'`
	}
	return `"` + string(rune(c)) + `"`
}
