package mailimport

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Content-Length framing (mboxcl, mboxcl2). The body is read raw, counting
// the bytes each line took in the stream, and unescaped once its framing is
// known. A Content-Length is trusted only when it ends on a message
// boundary: the end of the stream, or a "From " line, or an empty line and
// then one of those. When it does not, the message is framed by the From_
// rule instead: it ends at the first line in the framed bytes that the rule
// takes for a separator, and the lines after it are read again (replayed)
// as the next messages. So a wrong Content-Length costs at most the framing
// of its own message, never the messages after it.

// fromMark is a line beginning "From " in a framed body.
type fromMark struct {
	pos       int   // in m.buf while framing; in m.replay once replayed
	off       int64 // in the stream
	prevEmpty bool  // the line before it was empty
	separator bool  // the From_ rule takes it for a separator
}

// maxMarks bounds the marks kept for one message; a body with more "From "
// lines than that replays the later ones with approximate offsets.
const maxMarks = 10000

// readFramed reads a body framed by Content-Length. done is false when
// there is no usable Content-Length, or when it ends inside the stream but
// not on a boundary and no line of the framed bytes is a separator: then
// the caller reads on by the From_ rule, prevEmpty saying whether the last
// line read was empty.
func (m *Mbox) readFramed(s *msgState, hdr []field) (done, prevEmpty bool, err error) {
	n := int64(-1)
	for _, f := range hdr {
		if strings.EqualFold(f.name, "Content-Length") {
			if v, err := strconv.ParseInt(f.value, 10, 64); err == nil && v >= 0 {
				n = v
			}
		}
	}
	if n < 0 || n > m.lim.MaxSize {
		return false, true, nil
	}
	bodyStart := len(m.buf)
	var marks []fromMark
	var read int64
	prevEmpty = true
	eof := false
	for read < n {
		ok, err := m.readLine()
		if err != nil {
			return false, false, err
		}
		if !ok {
			eof = true
			break
		}
		read += int64(m.lineLen)
		if bytes.HasPrefix(m.line, []byte("From ")) && len(marks) < maxMarks && s.skip == nil {
			marks = append(marks, fromMark{pos: len(m.buf), off: m.lineOff, prevEmpty: prevEmpty,
				separator: m.isSeparator(prevEmpty)})
		}
		s.addLine(false)
		prevEmpty = len(m.line) == 0 && m.nl
	}
	if !eof && read == n && m.atBoundary() {
		if m.emptyLineNext() {
			if _, err := m.readLine(); err != nil { // the separator's empty line
				return false, false, err
			}
		}
		m.unescapeFrom(bodyStart)
		return true, false, nil
	}
	if s.skip == nil {
		for _, mk := range marks {
			if mk.separator {
				m.splitAt(bodyStart, mk, marks)
				return true, false, nil
			}
		}
	}
	if eof {
		if s.skip == nil {
			s.skip = &SkipError{Pos: s.pos, Reason: ReasonTruncated,
				Detail: fmt.Sprintf("Content-Length is %d, the file ends after %d", n, read)}
		}
		return true, false, nil
	}
	m.unescapeFrom(bodyStart)
	return false, prevEmpty, nil
}

// peek returns up to n of the next bytes, from the replay or the stream.
func (m *Mbox) peek(n int) []byte {
	if len(m.replay) > 0 {
		return m.replay[:min(n, len(m.replay))]
	}
	p, _ := m.br.Peek(n)
	return p
}

// atBoundary reports whether the next bytes end a message.
func (m *Mbox) atBoundary() bool {
	p := m.peek(7)
	rest := p
	if m.emptyLineNext() {
		rest = bytes.TrimPrefix(bytes.TrimPrefix(p, []byte("\r")), []byte("\n"))
	}
	return len(rest) == 0 || bytes.HasPrefix(rest, []byte("From "))
}

func (m *Mbox) emptyLineNext() bool {
	p := m.peek(2)
	return bytes.HasPrefix(p, []byte("\n")) || bytes.HasPrefix(p, []byte("\r\n"))
}

// splitAt ends the message before mark mk (and the empty line before it)
// and sets what follows to be read again.
func (m *Mbox) splitAt(bodyStart int, mk fromMark, marks []fromMark) {
	tail := m.buf[mk.pos:]
	replay := make([]byte, 0, len(tail)+len(m.replay))
	replay = append(append(replay, tail...), m.replay...)
	var nm []fromMark
	for _, x := range marks {
		if x.pos >= mk.pos {
			x.pos -= mk.pos
			nm = append(nm, x)
		}
	}
	for _, x := range m.marks { // the rest of an earlier replay
		if x.pos >= m.replayPos {
			x.pos = x.pos - m.replayPos + len(tail)
			nm = append(nm, x)
		}
	}
	m.replay, m.marks, m.replayPos, m.replayOff = replay, nm, 0, mk.off
	end := mk.pos
	if mk.prevEmpty && end-2 >= bodyStart {
		end -= 2
	}
	m.buf = m.buf[:end]
	m.unescapeFrom(bodyStart)
}

// replayLine takes the next line from the replay.
func (m *Mbox) replayLine() {
	line := m.replay
	m.nl = false
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line, m.nl = line[:i+1], true
	}
	// Replayed lines are CRLF; Content-Length counts them as the stream
	// wrote them.
	m.lineLen = len(line)
	if !m.crlf && bytes.HasSuffix(line, []byte("\r\n")) {
		m.lineLen--
	}
	m.lineOff = m.replayOff
	for len(m.marks) > 0 && m.marks[0].pos < m.replayPos {
		m.marks = m.marks[1:]
	}
	if len(m.marks) > 0 && m.marks[0].pos == m.replayPos {
		m.lineOff = m.marks[0].off
	}
	m.line = append(m.line[:0], bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))...)
	m.replay = m.replay[len(line):]
	m.replayPos += len(line)
	m.replayOff = m.lineOff + int64(m.lineLen)
	if len(m.replay) == 0 {
		m.replay, m.marks, m.replayPos = nil, nil, 0
	}
}

// unescapeFrom undoes mboxcl's From quoting on the lines of m.buf from
// start on, in place (mboxcl2 quotes nothing).
func (m *Mbox) unescapeFrom(start int) {
	if m.format != Mboxcl {
		return
	}
	b := m.buf[start:]
	out := b[:0]
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
		}
		b = b[len(line):]
		out = append(out, m.unescape(line)...)
	}
	m.buf = m.buf[:start+len(out)]
}
