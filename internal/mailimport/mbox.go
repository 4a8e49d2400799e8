package mailimport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Format is an mbox flavour. They differ in how a line beginning "From " in
// a message is kept from looking like the next message's From_ line (the
// names are those of Qmail's mbox(5) and RFC 4155's appendix).
type Format int

const (
	// Mboxrd: writers quote every /^>*From / line with one more ">";
	// readers remove one ">" from every /^>+From / line. Reversible.
	Mboxrd Format = iota
	// Mboxo: writers quote /^From / as ">From "; readers remove the ">"
	// from /^>From / (a ">From " the message had is lost to it: the
	// flavour is lossy, and Python's mailbox module writes it).
	Mboxo
	// Mboxcl: Mboxo quoting, and a Content-Length field frames the body.
	Mboxcl
	// Mboxcl2: Content-Length frames the body, nothing is quoted.
	Mboxcl2
)

// Formats are the flavours' names as ParseFormat reads them.
func Formats() []string { return []string{"mboxrd", "mboxo", "mboxcl", "mboxcl2"} }

func (f Format) String() string {
	if int(f) >= 0 && int(f) < len(Formats()) {
		return Formats()[f]
	}
	return "mbox?"
}

// ParseFormat reads a flavour's name.
func ParseFormat(s string) (Format, error) {
	if s == "" {
		return Mboxrd, nil
	}
	for i, n := range Formats() {
		if strings.EqualFold(s, n) {
			return Format(i), nil
		}
	}
	return 0, fmt.Errorf("unknown mbox format %q (want one of %s)", s, strings.Join(Formats(), ", "))
}

// Mbox reads an mbox stream. A message starts at a line "From " at the start
// of the stream or after an empty line (the empty line belongs to the
// separator, not to the message before: writers add it), or at a "From "
// line with a valid From_ date after any line (writers that add no empty
// line). With Mboxcl and Mboxcl2 a valid Content-Length frames the body
// instead, so that a "From " line in it does not split the message; a
// Content-Length that does not end on a message boundary (or is larger than
// Limits.MaxSize) is ignored and the From_ rule frames that message, so a
// wrong one never swallows the messages after it (mboxcl.go).
type Mbox struct {
	// Mailbox is given to every message read (Message.Mailbox).
	Mailbox string

	br     *bufio.Reader
	file   string
	format Format
	lim    Limits
	off    int64 // offset of the next unread byte

	// The current line, without its ending; long: it was longer than
	// lim.MaxLine and only the first MaxLine bytes are kept.
	line    []byte
	lineOff int64
	lineLen int // bytes the line took in its source, ending included
	nl      bool
	long    bool
	have    bool // line is read but not consumed (the next From_ line)

	buf []byte // the message being read, reused

	// replay holds lines read past the end of a message whose
	// Content-Length was wrong, CRLF-normalised, to be read again before
	// the stream; replayOff is the stream offset of its start, marks the
	// exact offsets of its "From " lines (mboxcl.go).
	replay    []byte
	replayOff int64
	replayPos int  // bytes of replay consumed since marks were made
	crlf      bool // the stream's first line ended in CRLF (replayed lines count so)
	marks     []fromMark
}

// NewMbox reads an mbox stream from r; file names it in positions.
func NewMbox(r io.Reader, file string, format Format, lim Limits) *Mbox {
	return &Mbox{br: bufio.NewReaderSize(r, 64<<10), file: file, format: format, lim: lim.withDefaults()}
}

// Offset is how many bytes of the stream have been read (for progress).
func (m *Mbox) Offset() int64 { return m.off }

// readLine reads the next line; false at the end of the stream.
func (m *Mbox) readLine() (bool, error) {
	m.line, m.nl, m.long = m.line[:0], false, false
	if len(m.replay) > 0 {
		m.replayLine()
		return true, nil
	}
	m.lineOff = m.off
	for {
		chunk, err := m.br.ReadSlice('\n')
		m.off += int64(len(chunk))
		if !m.long {
			if room := m.lim.MaxLine + 2 - len(m.line); len(chunk) > room {
				m.line = append(m.line, chunk[:room]...)
				m.long = true
			} else {
				m.line = append(m.line, chunk...)
			}
		}
		switch {
		case err == nil:
			m.nl = true
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			if m.off == m.lineOff {
				return false, nil
			}
		default:
			return false, fmt.Errorf("read %s at offset %d: %w", m.file, m.off, err)
		}
		break
	}
	m.lineLen = int(m.off - m.lineOff)
	if m.lineOff == 0 {
		m.crlf = bytes.HasSuffix(m.line, []byte("\r\n"))
	}
	if m.nl && !m.long {
		m.line = m.line[:len(m.line)-1]
	}
	m.line = bytes.TrimSuffix(m.line, []byte("\r"))
	if !m.long && len(m.line) > m.lim.MaxLine {
		m.long = true
	}
	return true, nil
}

// Next returns the next message, a *SkipError for one that is skipped, or
// io.EOF.
func (m *Mbox) Next() (*Message, error) {
	if !m.have {
		for {
			ok, err := m.readLine()
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, io.EOF
			}
			if len(m.line) > 0 || !m.nl {
				break // empty lines between or before messages are no loss
			}
		}
	}
	m.have = false
	if !bytes.HasPrefix(m.line, []byte("From ")) {
		return nil, m.skipGarbage()
	}
	pos := Position{File: m.file, Offset: m.lineOff}
	date, _ := fromLineDate(m.line)
	return m.readMessage(pos, date)
}

// skipGarbage skips to the next From_ line, reporting what it skipped.
func (m *Mbox) skipGarbage() error {
	start := m.lineOff
	for prevEmpty := false; ; {
		prevEmpty = len(m.line) == 0 && m.nl
		ok, err := m.readLine()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if m.isSeparator(prevEmpty) {
			m.have = true
			break
		}
	}
	return &SkipError{Pos: Position{File: m.file, Offset: start}, Reason: ReasonGarbage,
		Detail: fmt.Sprintf("%d bytes that do not start with a From_ line", m.lineOffOrEnd()-start)}
}

func (m *Mbox) lineOffOrEnd() int64 {
	if m.have {
		return m.lineOff
	}
	return m.off
}

// isSeparator reports whether the current line starts a new message.
func (m *Mbox) isSeparator(prevEmpty bool) bool {
	if !bytes.HasPrefix(m.line, []byte("From ")) {
		return false
	}
	if prevEmpty {
		return true
	}
	_, ok := fromLineDate(m.line)
	return ok
}

// unescape undoes the flavour's From quoting on one line.
func (m *Mbox) unescape(line []byte) []byte {
	switch m.format {
	case Mboxrd:
		i := 0
		for i < len(line) && line[i] == '>' {
			i++
		}
		if i > 0 && bytes.HasPrefix(line[i:], []byte("From ")) {
			return line[1:]
		}
	case Mboxo, Mboxcl:
		if bytes.HasPrefix(line, []byte(">From ")) {
			return line[1:]
		}
	}
	return line
}

// msgState is one message being read.
type msgState struct {
	m         *Mbox
	pos       Position
	skip      *SkipError
	lastStart int // where the last line starts in m.buf
}

func (s *msgState) add() { s.addLine(true) }

// addLine adds the current line to the message, unescaped when unescape
// (framed bodies are unescaped once their framing is known: mboxcl.go).
func (s *msgState) addLine(unescape bool) {
	m := s.m
	if s.skip != nil {
		return
	}
	if m.long {
		s.skip = &SkipError{Pos: s.pos, Reason: ReasonLongLine,
			Detail: fmt.Sprintf("the line at offset %d is longer than %d bytes", m.lineOff, m.lim.MaxLine)}
		m.buf = m.buf[:0]
		return
	}
	line := m.line
	if unescape {
		line = m.unescape(line)
	}
	// +2: the empty line before the next From_ is added, then removed.
	if int64(len(m.buf)+len(line)) > m.lim.MaxSize+2 {
		s.skip = &SkipError{Pos: s.pos, Reason: ReasonTooLarge,
			Detail: fmt.Sprintf("larger than %d bytes", m.lim.MaxSize)}
		m.buf = m.buf[:0]
		return
	}
	s.lastStart = len(m.buf)
	m.buf = crlf(m.buf, line, m.nl)
}

// readMessage reads the message after its From_ line, up to the next From_
// line or the end of the stream.
func (m *Mbox) readMessage(pos Position, fromDate time.Time) (*Message, error) {
	m.buf = m.buf[:0]
	s := &msgState{m: m, pos: pos}
	// The header: up to the first empty line.
	inHeader, prevEmpty, eof := true, false, false
	for inHeader {
		ok, err := m.readLine()
		if err != nil {
			return nil, err
		}
		if !ok {
			eof = true
			break
		}
		if m.isSeparator(false) {
			m.have = true
			break
		}
		s.add()
		if len(m.line) == 0 {
			inHeader, prevEmpty = false, true
		}
	}
	if inHeader && eof && len(m.buf) > 0 && s.skip == nil {
		s.skip = &SkipError{Pos: pos, Reason: ReasonTruncated, Detail: "the file ends inside the header"}
	}
	var hdr []field
	if s.skip == nil {
		hdr = fields(m.buf[:headerEnd(m.buf)])
	}
	// The body.
	if !inHeader {
		framed := false
		if m.format == Mboxcl || m.format == Mboxcl2 {
			var err error
			if framed, prevEmpty, err = m.readFramed(s, hdr); err != nil {
				return nil, err
			}
		}
		for !framed {
			ok, err := m.readLine()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if m.isSeparator(prevEmpty) {
				m.have = true
				break
			}
			s.add()
			prevEmpty = len(m.line) == 0 && m.nl
			if !m.nl && s.skip == nil {
				// Every mbox writer ends a message with a line end: a
				// stream that stops inside a line was cut off.
				s.skip = &SkipError{Pos: pos, Reason: ReasonTruncated, Detail: "the file ends inside a line"}
			}
		}
		if prevEmpty && s.skip == nil && !framed {
			m.buf = m.buf[:s.lastStart] // the separator's empty line
		}
	}
	if s.skip == nil && int64(len(m.buf)) > m.lim.MaxSize {
		s.skip = &SkipError{Pos: pos, Reason: ReasonTooLarge, Detail: fmt.Sprintf("larger than %d bytes", m.lim.MaxSize)}
	}
	if s.skip != nil {
		return nil, s.skip
	}
	return m.finish(pos, fromDate, hdr)
}

// finish turns the message read into a Message: flags from the status
// fields, which are then removed, and the internal date.
func (m *Mbox) finish(pos Position, fromDate time.Time, hdr []field) (*Message, error) {
	raw := m.buf
	if len(raw) == 0 {
		return nil, &SkipError{Pos: pos, Reason: ReasonEmpty}
	}
	if !startsWithField(raw) {
		return nil, &SkipError{Pos: pos, Reason: ReasonNoHeader, Detail: "the message does not start with a header field"}
	}
	st := statusFlags(hdr)
	if st.expunged {
		return nil, &SkipError{Pos: pos, Reason: ReasonDeleted, Detail: "expunged (X-Mozilla-Status), awaiting compaction"}
	}
	if st.folderData {
		return nil, &SkipError{Pos: pos, Reason: ReasonGarbage, Detail: "folder internal data (X-IMAP pseudo-message)"}
	}
	drop := isStateField
	if m.format == Mboxcl || m.format == Mboxcl2 {
		drop = func(name string) bool { return isStateField(name) || strings.EqualFold(name, "Content-Length") }
	}
	raw = stripFields(raw, headerEnd(raw), hdr, drop)
	date := fromDate
	if date.IsZero() {
		date = headerDate(hdr)
	}
	return &Message{Mailbox: m.Mailbox, Raw: bytes.Clone(raw), Flags: validFlags(st.flags), Date: date, Pos: pos}, nil
}

// fromLineDate parses the date of a From_ line, "From SENDER DATE" with
// DATE in asctime(3) form (RFC 4155 appendix), UTC unless it names a zone.
// ok is false when there is none.
func fromLineDate(line []byte) (time.Time, bool) {
	f := strings.Fields(string(line[len("From "):]))
	if i := indexOf(f, "remote"); i > 0 && i+1 < len(f) && f[i+1] == "from" {
		f = f[:i] // UUCP: "... 1996 remote from host"
	}
	for i := 1; i < len(f); i++ {
		if !isWeekday(f[i]) {
			continue
		}
		s := strings.Join(f[i:], " ")
		for _, layout := range []string{
			"Mon Jan 2 15:04:05 2006",
			"Mon Jan 2 15:04:05 2006 -0700",
			"Mon Jan 2 15:04:05 -0700 2006",
			"Mon Jan 2 15:04:05 MST 2006",
			"Mon Jan 2 15:04:05 2006 MST",
			"Mon Jan 2 15:04 2006",
			"Mon Jan 2 15:04 MST 2006",
		} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

func isWeekday(s string) bool {
	for _, d := range []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"} {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	return false
}

// MboxFolder is the folder an mbox file's name stands for: its base name
// without an .mbox or .mbx extension ("Sent.mbox" is Sent; mutt's and
// Thunderbird's files have no extension), and INBOX for any spelling of it.
func MboxFolder(path string) string {
	name := path
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	for _, ext := range []string{".mbox", ".mbx"} {
		if len(name) > len(ext) && strings.EqualFold(name[len(name)-len(ext):], ext) {
			name = name[:len(name)-len(ext)]
		}
	}
	if strings.EqualFold(name, "INBOX") || name == "" || name == "mbox" {
		return "INBOX"
	}
	return name
}
