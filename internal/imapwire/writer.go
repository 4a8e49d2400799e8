package imapwire

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxQuoted is the longest string written in quoted form; longer ones are
// literals, which no client limits by line length.
const maxQuoted = 1024

// errShortLiteral is the Writer's error when LiteralFrom's reader ends early.
var errShortLiteral = errors.New("imapwire: literal source shorter than its size")

// Writer writes server responses. Items of a line (atoms, numbers, strings,
// lists, response codes) are separated by one space automatically; a list's
// first item and the first item after Untagged, Tagged or Continue get none.
// The first write error is kept and returned by CRLF, Flush and Err.
type Writer struct {
	bw   *bufio.Writer
	utf8 bool // quoted strings may hold UTF-8 (RFC 6855 3, RFC 9051 4.3)
	sp   bool // the next item needs a separating space
	err  error
}

// NewWriter returns a Writer to bw.
func NewWriter(bw *bufio.Writer) *Writer { return &Writer{bw: bw} }

// SetUTF8 allows UTF-8 in quoted strings and mailbox names in UTF-8 rather
// than modified UTF-7, once the client enabled UTF8=ACCEPT or IMAP4rev2.
func (w *Writer) SetUTF8(on bool) { w.utf8 = on }

func (w *Writer) note(err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
}

func (w *Writer) raw(s string) {
	_, err := w.bw.WriteString(s)
	w.note(err)
}

func (w *Writer) byte(c byte) { w.note(w.bw.WriteByte(c)) }

func (w *Writer) write(b []byte) {
	_, err := w.bw.Write(b)
	w.note(err)
}

// sep writes the space before an item when one is due.
func (w *Writer) sep() {
	if w.sp {
		w.byte(' ')
	}
	w.sp = true
}

// Untagged starts an untagged response line: "* ".
func (w *Writer) Untagged() {
	w.raw("* ")
	w.sp = false
}

// Tagged starts a tagged response line: tag SP. An empty tag starts an
// untagged line, for errors whose tag is unknown.
func (w *Writer) Tagged(tag string) {
	if tag == "" {
		w.Untagged()
		return
	}
	w.raw(tag)
	w.byte(' ')
	w.sp = false
}

// Continue writes a command continuation request "+ " text CRLF (RFC 9051
// 7.6) and flushes it.
func (w *Writer) Continue(text string) error {
	w.raw("+ ")
	w.sp = false
	w.text(text)
	if err := w.CRLF(); err != nil {
		return err
	}
	return w.Flush()
}

// Atom writes s as it is. The caller guarantees it is valid at this place:
// an atom, a flag, a keyword, or a FETCH item name such as
// "BODY[HEADER.FIELDS (FROM)]<0>".
func (w *Writer) Atom(s string) {
	w.sep()
	w.raw(s)
}

// NIL writes NIL.
func (w *Writer) NIL() { w.Atom("NIL") }

// Number writes a number.
func (w *Writer) Number(n uint32) { w.Number64(uint64(n)) }

// Number64 writes a number64 (e.g. a MODSEQ value, RFC 7162 7).
func (w *Writer) Number64(n uint64) {
	w.sep()
	w.write(strconv.AppendUint(w.bw.AvailableBuffer(), n, 10))
}

// String writes a string (RFC 9051 4.3): quoted when it is short and has no
// CR, LF or NUL, nor 8-bit octets unless UTF-8 is enabled and it is valid
// UTF-8; a literal otherwise. NUL cannot be sent in a string and is
// replaced by U+FFFD.
func (w *Writer) String(s string) {
	w.sep()
	w.str(s)
}

func (w *Writer) str(s string) {
	if len(s) <= maxQuoted && isQuotable(s, w.utf8) {
		w.quoted(s)
		return
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	w.literalHeader(int64(len(s)), false)
	w.raw(s)
}

// appendQuoted appends s as a quoted string, escaping DQUOTE and "\".
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}

func (w *Writer) quoted(s string) {
	w.write(appendQuoted(w.bw.AvailableBuffer(), s))
}

// AString writes s as an astring: in atom form when it is one (and not
// "NIL", which a client could take for nil), else like String.
func (w *Writer) AString(s string) {
	w.sep()
	atom := s != "" && !strings.EqualFold(s, "NIL")
	for i := 0; atom && i < len(s); i++ {
		atom = isAStringChar(s[i])
	}
	if atom {
		w.raw(s)
		return
	}
	w.str(s)
}

// NString writes NIL for "" and s as a String otherwise.
func (w *Writer) NString(s string) {
	if s == "" {
		w.NIL()
		return
	}
	w.String(s)
}

// Mailbox writes a mailbox name, in modified UTF-7 (RFC 3501 5.1.3) unless
// UTF-8 is enabled (RFC 6855 3).
func (w *Writer) Mailbox(name string) {
	if !w.utf8 {
		name = EncodeMailbox(name)
	}
	w.AString(name)
}

func (w *Writer) literalHeader(n int64, binary bool) {
	b := w.bw.AvailableBuffer()
	if binary {
		b = append(b, '~')
	}
	b = append(b, '{')
	b = strconv.AppendInt(b, n, 10)
	b = append(b, "}\r\n"...)
	w.write(b)
}

// Literal writes b as a literal "{n}" CRLF data (RFC 9051 4.3).
func (w *Writer) Literal(b []byte) {
	w.sep()
	w.literalHeader(int64(len(b)), false)
	w.write(b)
}

// Literal8 writes b as a literal8 "~{n}" CRLF data (RFC 3516), for
// BINARY[] data that may hold NUL.
func (w *Writer) Literal8(b []byte) {
	w.sep()
	w.literalHeader(int64(len(b)), true)
	w.write(b)
}

// LiteralFrom writes a literal (literal8 when binary) of exactly n octets
// copied from r, e.g. BODY[] from the blob store. If r ends early the
// response is broken and the connection must be closed; the error says so.
func (w *Writer) LiteralFrom(r io.Reader, n int64, binary bool) error {
	w.sep()
	w.literalHeader(n, binary)
	if w.err != nil {
		return w.err
	}
	m, err := io.CopyN(w.bw, r, n)
	if m < n && (err == nil || err == io.EOF) {
		err = errShortLiteral
	}
	w.note(err)
	return w.err
}

// BeginList writes "(".
func (w *Writer) BeginList() {
	w.sep()
	w.byte('(')
	w.sp = false
}

// EndList writes ")".
func (w *Writer) EndList() {
	w.byte(')')
	w.sp = true
}

// Flags writes a parenthesized list of flags (RFC 9051 9: flag-list).
func (w *Writer) Flags(flags []string) {
	w.BeginList()
	for _, f := range flags {
		w.Atom(f)
	}
	w.EndList()
}

// BeginCode writes "[" and the response code name (RFC 9051 7.1); its
// arguments follow as items, then EndCode.
func (w *Writer) BeginCode(name string) {
	w.sep()
	w.byte('[')
	w.raw(name)
}

// EndCode writes "]".
func (w *Writer) EndCode() {
	w.byte(']')
	w.sp = true
}

// Text writes human-readable text (RFC 9051 9: text), which must come last
// on the line. CR, LF and NUL become spaces; without UTF-8, 8-bit octets
// become "?" (so do invalid UTF-8 octets with it).
func (w *Writer) Text(s string) {
	w.sep()
	w.text(s)
}

func (w *Writer) text(s string) {
	b := w.bw.AvailableBuffer()
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\r' || c == '\n' || c == 0:
			b = append(b, ' ')
		case c < 0x80:
			b = append(b, c)
		case w.utf8:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, '?')
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		default:
			b = append(b, '?')
		}
		i++
	}
	w.write(b)
}

// SeqSet writes a sequence set in canonical form.
func (w *Writer) SeqSet(s SeqSet) {
	w.sep()
	w.write(s.Canonical().appendTo(w.bw.AvailableBuffer()))
}

// DateTime writes a quoted date-time (RFC 9051 9), e.g. for INTERNALDATE.
func (w *Writer) DateTime(t time.Time) {
	w.sep()
	b := append(w.bw.AvailableBuffer(), '"')
	b = t.AppendFormat(b, DateTimeLayout)
	w.write(append(b, '"'))
}

// Status writes a whole status response line (RFC 9051 7.1): tag (or "*"
// when tag is ""), the condition (OK, NO, BAD, PREAUTH, BYE), the response
// code in brackets if code is not "" (written as it is, e.g. "UIDNEXT 4"),
// and text. RFC 3501 requires some text; RFC 9051 allows none.
func (w *Writer) Status(tag, cond, code, text string) error {
	w.Tagged(tag)
	w.Atom(cond)
	if code != "" {
		w.BeginCode(code)
		w.EndCode()
	}
	if text != "" {
		w.Text(text)
	}
	return w.CRLF()
}

// CRLF ends the line and returns the first error so far.
func (w *Writer) CRLF() error {
	w.raw("\r\n")
	w.sp = false
	return w.err
}

// Flush flushes the underlying writer.
func (w *Writer) Flush() error {
	w.note(w.bw.Flush())
	return w.err
}

// Err returns the first write error.
func (w *Writer) Err() error { return w.err }
