package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"gannet/internal/message"
)

// Search evaluation shared by the backends (RFC 9051 6.4.4). A backend turns
// what its engine indexes into a prefilter (its query language) and runs
// MatchMessage over the rows that pass when NeedsGo says the prefilter is not
// exact. MatchMessage evaluates the whole Criteria, so the prefilter only has
// to let through a superset.
//
// The cost is bounded per message, not per key: a body is decoded and
// lower-cased once per message however many BODY and TEXT keys name it, and so
// are the header fields (issue 13, finding 8). ctx is checked between keys, so
// a search whose client went away (the IMAP server cancels ctx then) stops
// instead of running to the end; a backend checks it between messages too.

// MaxSearchBody bounds how much of one message MatchMessage reads for BODY
// and TEXT.
const MaxSearchBody = 32 << 20

// SearchMessage is one candidate message with what MatchMessage needs. The
// fields from Body (Subject ... Parsed) need only be filled when
// NeedsBodies(c); Header and Parsed only when NeedsGo(c) too.
type SearchMessage struct {
	UID          uint32
	ModSeq       uint64
	Flags        FlagSet
	InternalDate time.Time
	Size         int64
	// As Body: lower-cased indexed header fields, the sent date and day.
	Subject, From, To, Cc, Bcc string
	SentDate, SentDay          int64
	Header, Parsed             []byte // Body.Header, Body.Parsed
}

// SearchProbe counts the work of the searches whose context carries it
// (WithSearchProbe): what tests and benchmarks look at to see that the work
// per message does not grow with the number of keys, and that a cancelled
// search stops.
type SearchProbe struct {
	Rows    atomic.Int64 // messages evaluated in Go
	Decoded atomic.Int64 // message bodies decoded and lower-cased
	Keys    atomic.Int64 // BODY and TEXT keys evaluated against a body
	// Row, if set, is called before each message is evaluated in Go, with
	// the number of messages evaluated so far including this one.
	Row func(n int64)
}

type searchProbeKey struct{}

// WithSearchProbe returns a context whose searches count their work in p.
func WithSearchProbe(ctx context.Context, p *SearchProbe) context.Context {
	return context.WithValue(ctx, searchProbeKey{}, p)
}

// IndexedHeader reports whether a backend can match a HEADER/SUBJECT/FROM/...
// term on field exactly from the Body fields (Subject, From, To, Cc, Bcc): a
// substring of the lower-cased stored text. A term with an empty value (field
// present) needs MatchMessage.
func IndexedHeader(field string) bool {
	switch strings.ToLower(field) {
	case "subject", "from", "to", "cc", "bcc":
		return true
	}
	return false
}

// NeedsBodies reports whether any term reads the parse results: header fields,
// the Date: header, body or text. Without it a backend need not read bodies.
func NeedsBodies(c Criteria) bool {
	if len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 {
		return true
	}
	for _, d := range []*DateTerm{c.Before, c.On, c.Since} {
		if d != nil && d.Field == DateSent {
			return true
		}
	}
	for _, n := range c.Not {
		if NeedsBodies(n) {
			return true
		}
	}
	for _, o := range c.Or {
		if NeedsBodies(o[0]) || NeedsBodies(o[1]) {
			return true
		}
	}
	return false
}

// NeedsGo reports whether the criteria contain terms a backend's prefilter
// cannot evaluate exactly from the indexed columns (NOT, OR, BODY, TEXT,
// unindexed or presence-only header terms): then every candidate goes through
// MatchMessage.
func NeedsGo(c Criteria) bool {
	if len(c.Not) > 0 || len(c.Or) > 0 || len(c.Body) > 0 || len(c.Text) > 0 {
		return true
	}
	for _, h := range c.Header {
		if !IndexedHeader(h.Field) || h.Value == "" {
			return true
		}
	}
	return false
}

// MatchMessage evaluates c against one message. open returns the message's
// bytes; it is called at most once, and only when a BODY or TEXT key needs the
// body. Errors are ctx's (wrapped) or open's.
func MatchMessage(ctx context.Context, m *SearchMessage, c Criteria, open func() (io.ReadCloser, error)) (bool, error) {
	e := &evaluation{m: m, ctx: ctx, open: open}
	e.probe, _ = ctx.Value(searchProbeKey{}).(*SearchProbe)
	if e.probe != nil {
		n := e.probe.Rows.Add(1)
		if e.probe.Row != nil {
			e.probe.Row(n)
		}
	}
	return e.match(c)
}

// evaluation is one message under evaluation, with what is computed once per
// message on first use and shared by every key.
type evaluation struct {
	m     *SearchMessage
	ctx   context.Context
	open  func() (io.ReadCloser, error)
	probe *SearchProbe

	bodyLower   *string       // decoded text parts, lower-cased
	headerLower *[2]string    // the raw header and its RFC 2047 decoding, lower-cased
	fields      []searchField // unfolded header fields
}

// searchField is one unfolded header field with its value lower-cased as
// written and, on first use, RFC 2047-decoded.
type searchField struct {
	name, value string
	lower       string
	lower2047   *string
}

func (e *evaluation) match(c Criteria) (bool, error) {
	m := e.m
	if !c.UIDs.Contains(m.UID) {
		return false, nil
	}
	for _, f := range c.WithFlags {
		if !m.Flags.Has(f) {
			return false, nil
		}
	}
	for _, f := range c.WithoutFlg {
		if m.Flags.Has(f) {
			return false, nil
		}
	}
	for _, h := range c.Header {
		if !e.headerContains(h.Field, h.Value) {
			return false, nil
		}
	}
	if (c.Larger > 0 && m.Size <= c.Larger) || (c.Smaller > 0 && m.Size >= c.Smaller) {
		return false, nil
	}
	if c.ModSeq > 0 && m.ModSeq < c.ModSeq {
		return false, nil
	}
	if !c.YoungerThan.IsZero() && m.InternalDate.Unix() < c.YoungerThan.Unix() ||
		!c.OlderThan.IsZero() && m.InternalDate.Unix() >= c.OlderThan.Unix() {
		return false, nil
	}
	for _, d := range []struct {
		t   *DateTerm
		cmp int
	}{{c.Before, -1}, {c.On, 0}, {c.Since, 1}} {
		if d.t != nil && !e.dateMatch(d.t, d.cmp) {
			return false, nil
		}
	}
	for _, b := range c.Body {
		ok, err := e.bodyContains(b)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, t := range c.Text {
		if e.headerContainsText(t) {
			continue
		}
		ok, err := e.bodyContains(t)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, n := range c.Not {
		ok, err := e.match(n)
		if err != nil || ok {
			return false, err
		}
	}
	for _, or := range c.Or {
		a, err := e.match(or[0])
		if err != nil {
			return false, err
		}
		if !a {
			b, err := e.match(or[1])
			if err != nil || !b {
				return false, err
			}
		}
	}
	return true, nil
}

// dateMatch compares by calendar day: the internal date's in UTC, the sent
// date's in its own zone (RFC 9051 6.4.4 "disregarding time and timezone").
func (e *evaluation) dateMatch(t *DateTerm, cmp int) bool {
	var day, want int64
	if t.Field == DateSent {
		if e.m.SentDate == 0 {
			return false
		}
		day, want = e.m.SentDay, DayNumber(t.Date)
	} else {
		day, want = e.m.InternalDate.Unix()/86400, DayStart(t.Date)/86400
	}
	switch cmp {
	case -1:
		return day < want
	case 0:
		return day == want
	default:
		return day >= want
	}
}

// DayStart is 00:00 UTC of d's calendar date (in d's own location), as unix
// seconds: what BEFORE/ON/SINCE compare INTERNALDATE with.
func DayStart(d time.Time) int64 {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Unix()
}

func (e *evaluation) headerContains(field, value string) bool {
	if value != "" && IndexedHeader(field) {
		var v string
		switch strings.ToLower(field) {
		case "subject":
			v = e.m.Subject
		case "from":
			v = e.m.From
		case "to":
			v = e.m.To
		case "cc":
			v = e.m.Cc
		default:
			v = e.m.Bcc
		}
		return strings.Contains(v, strings.ToLower(value))
	}
	if e.fields == nil {
		e.fields = []searchField{}
		for _, f := range HeaderFields(e.m.Header) {
			e.fields = append(e.fields, searchField{name: f[0], value: f[1], lower: strings.ToLower(f[1])})
		}
	}
	value = strings.ToLower(value)
	for i := range e.fields {
		f := &e.fields[i]
		if !strings.EqualFold(f.name, field) {
			continue
		}
		if value == "" || strings.Contains(f.lower, value) {
			return true
		}
		if f.lower2047 == nil {
			d := strings.ToLower(message.DecodeHeader(f.value))
			f.lower2047 = &d
		}
		if strings.Contains(*f.lower2047, value) {
			return true
		}
	}
	return false
}

// headerContainsText is the header half of TEXT: the raw header or its RFC
// 2047 decoding contains needle, case-insensitively.
func (e *evaluation) headerContainsText(needle string) bool {
	if e.headerLower == nil {
		e.headerLower = &[2]string{strings.ToLower(string(e.m.Header)),
			strings.ToLower(message.DecodeHeader(string(e.m.Header)))}
	}
	needle = strings.ToLower(needle)
	return strings.Contains(e.headerLower[0], needle) || strings.Contains(e.headerLower[1], needle)
}

// bodyContains searches the decoded text of every text part (RFC 9051 6.4.4
// BODY). The text is decoded and lower-cased on the first key only.
func (e *evaluation) bodyContains(needle string) (bool, error) {
	if err := e.ctx.Err(); err != nil {
		return false, fmt.Errorf("search: %w", err)
	}
	if e.bodyLower == nil {
		text, err := BodyText(e.m.Parsed, e.open)
		if err != nil {
			return false, err
		}
		text = strings.ToLower(text)
		e.bodyLower = &text
		if e.probe != nil {
			e.probe.Decoded.Add(1)
		}
	}
	if e.probe != nil {
		e.probe.Keys.Add(1)
	}
	return strings.Contains(*e.bodyLower, strings.ToLower(needle)), nil
}

// BodyText is the decoded text of every text part of a message, each followed
// by a newline: what BODY searches. parsed is Body.Parsed; open returns the
// message bytes, of which at most MaxSearchBody are read. A part that does not
// decode is searched as its raw bytes.
func BodyText(parsed []byte, open func() (io.ReadCloser, error)) (string, error) {
	p, err := message.Unmarshal(parsed)
	if err != nil {
		return "", fmt.Errorf("search: decode parse results: %w", err)
	}
	rc, err := open()
	if err != nil {
		return "", fmt.Errorf("search: open message: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, MaxSearchBody))
	if err != nil {
		return "", fmt.Errorf("search: read message: %w", err)
	}
	var sb strings.Builder
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		if p == nil {
			return
		}
		if len(p.Parts) > 0 {
			for _, c := range p.Parts {
				walk(c)
			}
			return
		}
		if p.Type != "text" {
			return
		}
		t, err := message.DecodeText(raw, p)
		if err != nil {
			// Undecodable text still gets searched as raw bytes.
			t = string(raw[min(p.BodyStart, int64(len(raw))):min(p.End, int64(len(raw)))])
		}
		sb.WriteString(t)
		sb.WriteString("\n")
	}
	walk(p.Body)
	return sb.String(), nil
}

// HeaderFields returns every field of a header block as {name, unfolded
// value}, both trimmed, in order (RFC 5322 2.2.3 unfolding).
func HeaderFields(hdr []byte) [][2]string {
	var out [][2]string
	lines := bytes.Split(hdr, []byte("\n"))
	var cur []byte
	flush := func() {
		if cur == nil {
			return
		}
		if i := bytes.IndexByte(cur, ':'); i > 0 {
			out = append(out, [2]string{strings.TrimSpace(string(cur[:i])), strings.TrimSpace(string(cur[i+1:]))})
		}
		cur = nil
	}
	for _, l := range lines {
		l = bytes.TrimRight(l, "\r")
		if len(l) > 0 && (l[0] == ' ' || l[0] == '\t') && cur != nil {
			cur = append(cur, ' ')
			cur = append(cur, bytes.TrimLeft(l, " \t")...)
			continue
		}
		flush()
		if len(l) == 0 {
			break
		}
		cur = append([]byte(nil), l...)
	}
	flush()
	return out
}
