package sqlstore

import (
	"context"
	"fmt"
	"io"
	"strings"

	"gannet/internal/store"
)

// Search implements store.Store (RFC 9051 6.4.4). The top-level AND terms that the
// schema indexes become SQL; whatever remains (NOT, OR, arbitrary header fields,
// BODY, TEXT) is evaluated in Go, by store.MatchMessage, over the rows SQL let
// through; its cost is bounded per message (see store/search.go). ctx is
// checked between messages, and by MatchMessage between keys.
func (s *Store) Search(ctx context.Context, accountID, mailboxID int64, c store.Criteria) ([]uint32, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if err := s.ownMailboxRead(ctx, accountID, mailboxID); err != nil {
		return nil, err
	}
	where, args := sqlCriteria(c)
	goEval := store.NeedsGo(c)
	// Searches on flags, sizes, internal dates, UIDs and MODSEQ (UNSEEN, DELETED,
	// the common client searches) read the messages table alone.
	cols := `m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob,
		'', '', '', '', '', 0, 0`
	from := `messages m`
	if store.NeedsBodies(c) {
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
	var out []uint32
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		var m store.SearchMessage
		var kw, blob string
		var date int64
		dst := []any{&m.UID, &m.ModSeq, &m.Flags.Bits, &kw, &date, &m.Size, &blob,
			&m.Subject, &m.From, &m.To, &m.Cc, &m.Bcc, &m.SentDate, &m.SentDay}
		if goEval {
			dst = append(dst, &m.Header, &m.Parsed)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		if goEval {
			m.Flags.Keywords = store.DecodeKeywords(kw)
			m.InternalDate = fromUnix(date)
			ok, err := store.MatchMessage(ctx, &m, c, func() (io.ReadCloser, error) { return s.Open(ctx, blob) })
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		} else if !c.UIDs.Contains(m.UID) {
			continue
		}
		out = append(out, m.UID)
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

func dateCond(t *store.DateTerm, cmp string) (string, []any) {
	if t.Field == store.DateSent {
		return " AND b.sent_date != 0 AND b.sent_day " + cmp + " ?", []any{store.DayNumber(t.Date)}
	}
	start := store.DayStart(t.Date)
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
	if !c.YoungerThan.IsZero() {
		add(" AND m.internal_date >= ?", []any{c.YoungerThan.Unix()})
	}
	if !c.OlderThan.IsZero() {
		add(" AND m.internal_date < ?", []any{c.OlderThan.Unix()})
	}
	return sb.String(), args
}
