package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"gannet/internal/message"
	"gannet/internal/store"
)

// Search implements store.Store (RFC 9051 6.4.4). The top-level AND terms that the
// schema indexes become SQL; whatever remains (NOT, OR, arbitrary header fields,
// BODY, TEXT) is evaluated in Go over the rows SQL let through.
//
// The cost of the Go evaluation is bounded per message, not per key: a body is
// decoded and lower-cased once per Search however many BODY and TEXT keys
// name it, and so are the header fields (issue 13, finding 8). ctx is checked
// between messages and between keys, so a search whose client went away (the
// IMAP server cancels ctx then) stops instead of running to the end.
func (s *Store) Search(ctx context.Context, accountID, mailboxID int64, c store.Criteria) ([]uint32, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if err := s.ownMailboxRead(ctx, accountID, mailboxID); err != nil {
		return nil, err
	}
	where, args := sqlCriteria(c)
	goEval := needsGo(c)
	// Searches on flags, sizes, internal dates, UIDs and MODSEQ (UNSEEN, DELETED,
	// the common client searches) read the messages table alone.
	cols := `m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob,
		'', '', '', '', '', 0, 0`
	from := `messages m`
	if needsBodies(c) {
		cols = `m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob,
		b.subject, b.h_from, b.h_to, b.h_cc, b.h_bcc, b.sent_date, b.sent_day`
		from += ` JOIN bodies b ON b.blob = m.blob`
		if goEval {
			cols += `, b.header, b.parsed`
		}
	} else if goEval {
		cols += `, x'', x''`
	}
	q := `SELECT ` + cols + ` FROM ` + from + `
		WHERE m.mailbox_id = ? AND m.account_id = ?` + where + ` ORDER BY m.uid`
	rows, err := s.r.QueryContext(ctx, q, append([]any{mailboxID, accountID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	probe, _ := ctx.Value(searchProbeKey{}).(*SearchProbe)
	var out []uint32
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		var r searchRow
		dst := []any{&r.uid, &r.modseq, &r.flags.Bits, &r.kw, &r.date, &r.size, &r.blob,
			&r.subject, &r.from, &r.to, &r.cc, &r.bcc, &r.sentDate, &r.sentDay}
		if goEval {
			dst = append(dst, &r.header, &r.parsed)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		r.flags.Keywords = store.DecodeKeywords(r.kw)
		if goEval {
			r.s = s
			r.ctx = ctx
			r.probe = probe
			if probe != nil {
				n := probe.Rows.Add(1)
				if probe.Row != nil {
					probe.Row(n)
				}
			}
			ok, err := r.match(c)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		} else if !c.UIDs.Contains(r.uid) {
			continue
		}
		out = append(out, r.uid)
	}
	return out, rows.Err()
}

// indexedHeader maps header names to the bodies columns that hold them.
var indexedHeader = map[string]string{
	"subject": "b.subject",
	"from":    "b.h_from",
	"to":      "b.h_to",
	"cc":      "b.h_cc",
	"bcc":     "b.h_bcc",
}

// needsBodies reports whether any term reads the parse results: header fields,
// the Date: header, body or text.
func needsBodies(c store.Criteria) bool {
	if len(c.Header) > 0 || len(c.Body) > 0 || len(c.Text) > 0 {
		return true
	}
	for _, d := range []*store.DateTerm{c.Before, c.On, c.Since} {
		if d != nil && d.Field == store.DateSent {
			return true
		}
	}
	for _, n := range c.Not {
		if needsBodies(n) {
			return true
		}
	}
	for _, o := range c.Or {
		if needsBodies(o[0]) || needsBodies(o[1]) {
			return true
		}
	}
	return false
}

// needsGo reports whether the criteria contain terms SQL does not evaluate exactly.
func needsGo(c store.Criteria) bool {
	if len(c.Not) > 0 || len(c.Or) > 0 || len(c.Body) > 0 || len(c.Text) > 0 {
		return true
	}
	for _, h := range c.Header {
		if _, ok := indexedHeader[strings.ToLower(h.Field)]; !ok || h.Value == "" {
			return true
		}
	}
	return false
}

func flagCond(flag string, set bool) (string, []any) {
	if bit, ok := store.SystemFlagBit(flag); ok {
		if set {
			return fmt.Sprintf(" AND m.flags & %d != 0", bit), nil
		}
		return fmt.Sprintf(" AND m.flags & %d = 0", bit), nil
	}
	op := "> 0"
	if !set {
		op = "= 0"
	}
	return " AND instr(' ' || lower(m.keywords) || ' ', ' ' || lower(?) || ' ') " + op, []any{flag}
}

// dayStart is 00:00 UTC of d's calendar date, as unix seconds.
func dayStart(d time.Time) int64 {
	y, m, day := d.Date()
	return time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Unix()
}

func dateCond(t *store.DateTerm, cmp string) (string, []any) {
	if t.Field == store.DateSent {
		return " AND b.sent_date != 0 AND b.sent_day " + cmp + " ?", []any{store.DayNumber(t.Date)}
	}
	start := dayStart(t.Date)
	switch cmp {
	case "<":
		return " AND m.internal_date < ?", []any{start}
	case ">=":
		return " AND m.internal_date >= ?", []any{start}
	default: // "="
		return " AND m.internal_date >= ? AND m.internal_date < ?", []any{start, start + 86400}
	}
}

// sqlCriteria renders the SQL-evaluable top-level terms as " AND ..." conditions.
func sqlCriteria(c store.Criteria) (string, []any) {
	var sb strings.Builder
	var args []any
	add := func(cond string, a []any) {
		sb.WriteString(cond)
		args = append(args, a...)
	}
	if c.UIDs != nil {
		cond, a, _ := uidWhere("m.uid", c.UIDs)
		add(" AND "+cond, a)
	}
	for _, f := range c.WithFlags {
		add(flagCond(f, true))
	}
	for _, f := range c.WithoutFlg {
		add(flagCond(f, false))
	}
	for _, h := range c.Header {
		if col, ok := indexedHeader[strings.ToLower(h.Field)]; ok && h.Value != "" {
			add(" AND instr("+col+", ?) > 0", []any{strings.ToLower(h.Value)})
		}
	}
	if c.Larger > 0 {
		add(" AND m.size > ?", []any{c.Larger})
	}
	if c.Smaller > 0 {
		add(" AND m.size < ?", []any{c.Smaller})
	}
	if c.Before != nil {
		add(dateCond(c.Before, "<"))
	}
	if c.On != nil {
		add(dateCond(c.On, "="))
	}
	if c.Since != nil {
		add(dateCond(c.Since, ">="))
	}
	if c.ModSeq > 0 {
		add(" AND m.modseq >= ?", []any{c.ModSeq})
	}
	return sb.String(), args
}

// searchRow is one candidate message with what Go evaluation needs.
type searchRow struct {
	uid                        uint32
	modseq                     uint64
	flags                      store.FlagSet
	kw                         string
	date, size                 int64
	blob                       string
	subject, from, to, cc, bcc string
	sentDate, sentDay          int64
	header, parsed             []byte
	s                          *Store
	ctx                        context.Context
	probe                      *SearchProbe

	// Computed once per message on first use, shared by every key.
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

// SearchProbe counts the work of the Search calls whose context carries it
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

// WithSearchProbe returns a context whose Search calls count their work in p.
func WithSearchProbe(ctx context.Context, p *SearchProbe) context.Context {
	return context.WithValue(ctx, searchProbeKey{}, p)
}

func (r *searchRow) match(c store.Criteria) (bool, error) {
	if !c.UIDs.Contains(r.uid) {
		return false, nil
	}
	for _, f := range c.WithFlags {
		if !r.hasFlag(f) {
			return false, nil
		}
	}
	for _, f := range c.WithoutFlg {
		if r.hasFlag(f) {
			return false, nil
		}
	}
	for _, h := range c.Header {
		if !r.headerContains(h.Field, h.Value) {
			return false, nil
		}
	}
	if (c.Larger > 0 && r.size <= c.Larger) || (c.Smaller > 0 && r.size >= c.Smaller) {
		return false, nil
	}
	if c.ModSeq > 0 && r.modseq < c.ModSeq {
		return false, nil
	}
	for _, d := range []struct {
		t   *store.DateTerm
		cmp int
	}{{c.Before, -1}, {c.On, 0}, {c.Since, 1}} {
		if d.t != nil && !r.dateMatch(d.t, d.cmp) {
			return false, nil
		}
	}
	for _, b := range c.Body {
		ok, err := r.bodyContains(b)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, t := range c.Text {
		if r.headerContainsText(t) {
			continue
		}
		ok, err := r.bodyContains(t)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, n := range c.Not {
		ok, err := r.match(n)
		if err != nil || ok {
			return false, err
		}
	}
	for _, or := range c.Or {
		a, err := r.match(or[0])
		if err != nil {
			return false, err
		}
		if !a {
			b, err := r.match(or[1])
			if err != nil || !b {
				return false, err
			}
		}
	}
	return true, nil
}

func (r *searchRow) hasFlag(f string) bool { return r.flags.Has(f) }

func (r *searchRow) dateMatch(t *store.DateTerm, cmp int) bool {
	var day, want int64
	if t.Field == store.DateSent {
		if r.sentDate == 0 {
			return false
		}
		day, want = r.sentDay, store.DayNumber(t.Date)
	} else {
		day, want = fromUnix(r.date).Unix()/86400, dayStart(t.Date)/86400
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

func (r *searchRow) headerContains(field, value string) bool {
	if col, ok := indexedHeader[strings.ToLower(field)]; ok && value != "" {
		var v string
		switch col {
		case "b.subject":
			v = r.subject
		case "b.h_from":
			v = r.from
		case "b.h_to":
			v = r.to
		case "b.h_cc":
			v = r.cc
		default:
			v = r.bcc
		}
		return strings.Contains(v, strings.ToLower(value))
	}
	if r.fields == nil {
		r.fields = []searchField{}
		for _, f := range headerFields(r.header) {
			r.fields = append(r.fields, searchField{name: f[0], value: f[1], lower: strings.ToLower(f[1])})
		}
	}
	value = strings.ToLower(value)
	for i := range r.fields {
		f := &r.fields[i]
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
func (r *searchRow) headerContainsText(needle string) bool {
	if r.headerLower == nil {
		r.headerLower = &[2]string{strings.ToLower(string(r.header)),
			strings.ToLower(message.DecodeHeader(string(r.header)))}
	}
	needle = strings.ToLower(needle)
	return strings.Contains(r.headerLower[0], needle) || strings.Contains(r.headerLower[1], needle)
}

// bodyContains searches the decoded text of every text part (RFC 9051 6.4.4
// BODY). The text is decoded and lower-cased on the first key only.
func (r *searchRow) bodyContains(needle string) (bool, error) {
	if err := r.ctx.Err(); err != nil {
		return false, fmt.Errorf("search: %w", err)
	}
	if r.bodyLower == nil {
		text, err := r.s.bodyText(r.ctx, r.blob, r.parsed)
		if err != nil {
			return false, err
		}
		text = strings.ToLower(text)
		r.bodyLower = &text
		if r.probe != nil {
			r.probe.Decoded.Add(1)
		}
	}
	if r.probe != nil {
		r.probe.Keys.Add(1)
	}
	return strings.Contains(*r.bodyLower, strings.ToLower(needle)), nil
}

// maxSearchBody bounds how much of one message body search reads.
const maxSearchBody = 32 << 20

func (s *Store) bodyText(ctx context.Context, blob string, parsed []byte) (string, error) {
	p, err := message.Unmarshal(parsed)
	if err != nil {
		return "", fmt.Errorf("search: decode parse results: %w", err)
	}
	rc, err := s.Open(ctx, blob)
	if err != nil {
		return "", fmt.Errorf("search: open message: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxSearchBody))
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

// headerFields returns every field of hdr as {name, unfolded value}, both
// trimmed.
func headerFields(hdr []byte) [][2]string {
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
