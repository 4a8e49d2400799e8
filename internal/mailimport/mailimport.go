// Package mailimport reads mail from files other programs wrote (mbox in its
// flavours, Maildir and Maildir++ trees) and imports it into an account
// through the store's APPEND path, so that quotas, MODSEQ and the change
// feed are respected as for any other write (docs/ARCHITECTURE.md,
// "mailimport").
//
// Readers stream: a message is the largest thing held in memory, and a
// message over Limits.MaxSize, or a line over Limits.MaxLine, is reported
// with its position (a *SkipError from Next) and skipped, without stopping
// the messages after it.
package mailimport

import (
	"bytes"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"gannet/internal/store"
)

// Message is one message read from a source.
type Message struct {
	// Mailbox is the source folder as a store name ("/" separated); ""
	// means the importer's default (INBOX, or the mbox file's name).
	Mailbox string
	// Raw is the message with CRLF line endings, as SMTP delivery and IMAP
	// APPEND store it (RFC 5322 2.1), without the source's framing and
	// without headers that only carry the source mailbox's state (Status,
	// X-Status, X-Keywords, X-Mozilla-*: the flags are in Flags).
	Raw []byte
	// Flags are system flags and keywords, valid for store.ParseFlags.
	Flags []string
	// Date is the internal date; zero when the source has none (the store
	// takes the time of the import).
	Date time.Time
	// Pos is where the message starts in the source, for reports.
	Pos Position
}

// Position is a place in a source: a file and a byte offset in it.
type Position struct {
	File   string
	Offset int64 // -1 when the whole file is the message (Maildir)
}

func (p Position) String() string {
	if p.Offset < 0 {
		return p.File
	}
	return fmt.Sprintf("%s: offset %d", p.File, p.Offset)
}

// Reasons a message is skipped; Summary counts by them.
const (
	ReasonTooLarge   = "too large"
	ReasonLongLine   = "line too long"
	ReasonTruncated  = "truncated"
	ReasonNoHeader   = "no header"
	ReasonEmpty      = "empty"
	ReasonGarbage    = "not a message"
	ReasonDeleted    = "deleted in the source"
	ReasonImported   = "already imported"
	ReasonDuplicate  = "duplicate"
	ReasonUnreadable = "unreadable"
)

// SkipError reports a message (or a stretch of the source) that is not
// imported. Next returns it and may be called again: the source goes on
// after it.
type SkipError struct {
	Pos    Position
	Reason string // one of the Reason* constants
	Detail string
}

func (e *SkipError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Reason, e.Detail)
}

// Source yields messages: Next returns the next one, a *SkipError for one
// that is skipped (call Next again), io.EOF at the end, or another error
// when the source cannot be read on.
type Source interface {
	Next() (*Message, error)
}

// Limits bound what one message may hold.
type Limits struct {
	// MaxSize is the largest message imported (after CRLF normalisation);
	// the server's limits.max_message_bytes. 0 = DefaultMaxSize.
	MaxSize int64
	// MaxLine is the longest line; a message with a longer one is skipped.
	// MTAs fold lines long before (RFC 5322 2.1.1 allows 998 octets), so
	// such a line is damage, not mail. 0 = DefaultMaxLine.
	MaxLine int
}

// Defaults for Limits.
const (
	DefaultMaxSize = 50 << 20
	DefaultMaxLine = 1 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxSize <= 0 {
		l.MaxSize = DefaultMaxSize
	}
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	return l
}

// headerEnd returns the length of the header block of a CRLF message,
// including the empty line that ends it, or len(raw) when there is none.
func headerEnd(raw []byte) int {
	if bytes.HasPrefix(raw, []byte("\r\n")) {
		return 2
	}
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return len(raw)
}

// startsWithField reports whether raw begins with a header field: a name of
// printable US-ASCII other than ":" and a colon (RFC 5322 2.2). A message
// that does not is "without headers".
func startsWithField(raw []byte) bool {
	for i, c := range raw {
		switch {
		case c == ':':
			return i > 0
		case c <= ' ' || c >= 0x7f:
			return false
		}
	}
	return false
}

// field is one header field of a CRLF header block.
type field struct {
	start, end int    // bytes of the whole field, continuation lines included
	name       string // as written
	value      string // unfolded, trimmed
}

// fields splits a CRLF header block into fields; lines that are not fields
// (and not continuations) are skipped.
func fields(hdr []byte) []field {
	var out []field
	for i := 0; i < len(hdr); {
		j := bytes.Index(hdr[i:], []byte("\r\n"))
		end := len(hdr)
		if j >= 0 {
			end = i + j + 2
		}
		line := hdr[i:end]
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			f := &out[len(out)-1]
			f.end = end
			f.value += " " + strings.TrimSpace(string(line))
		} else if k := bytes.IndexByte(line, ':'); k > 0 {
			out = append(out, field{start: i, end: end, name: string(line[:k]),
				value: strings.TrimSpace(string(line[k+1:]))})
		}
		i = end
	}
	return out
}

// stripFields removes the fields whose names drop reports true from the
// header block at the start of raw, in place, and returns the shortened
// message.
func stripFields(raw []byte, hdrLen int, fs []field, drop func(name string) bool) []byte {
	out := raw[:0]
	prev := 0
	for _, f := range fs {
		if !drop(f.name) {
			continue
		}
		out = append(out, raw[prev:f.start]...)
		prev = f.end
	}
	if prev == 0 {
		return raw
	}
	out = append(out, raw[prev:hdrLen]...)
	return append(out, raw[hdrLen:]...)
}

// headerDate is the Date: field of a header block, zero when absent or bad.
func headerDate(fs []field) time.Time {
	for _, f := range fs {
		if strings.EqualFold(f.name, "Date") {
			if t, err := mail.ParseDate(f.value); err == nil {
				return t
			}
			return time.Time{}
		}
	}
	return time.Time{}
}

// validFlags keeps the flags the store accepts (keywords written by other
// programs may not be IMAP atoms), without duplicates.
func validFlags(in []string) []string {
	var out []string
	for _, f := range in {
		if f == "" {
			continue
		}
		if _, err := store.ParseFlags([]string{f}); err != nil {
			continue
		}
		dup := false
		for _, o := range out {
			if strings.EqualFold(o, f) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

// crlf appends line to dst with a CRLF ending when nl (the line had an
// ending in the source, LF or CRLF, already removed).
func crlf(dst, line []byte, nl bool) []byte {
	dst = append(dst, line...)
	if nl {
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// errLongLine is normalise's report of a line over the limit.
var errLongLine = errors.New("line too long")

// normalise converts src's line endings (LF or CRLF) to CRLF into dst,
// failing with errLongLine when a line is longer than maxLine.
func normalise(dst, src []byte, maxLine int) ([]byte, error) {
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		line, nl := src, false
		if i >= 0 {
			line, nl = src[:i], true
			src = src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > maxLine {
			return dst, errLongLine
		}
		dst = crlf(dst, line, nl)
	}
	return dst, nil
}
