package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"

	"gannet/internal/store"
)

// Search implements store.Store (RFC 9051 6.4.4), with the same results as
// sqlstore. The top-level AND terms that the schema holds in columns (flags,
// keywords, UIDs, sizes, dates by day, MODSEQ, the lower-cased indexed header
// fields) become a WHERE clause, always with bound parameters; whatever remains
// (NOT, OR, other header fields, BODY, TEXT) is evaluated in Go by
// store.MatchMessage over the rows the WHERE clause lets through, at a cost
// bounded per message (see store/search.go). ctx is checked between messages,
// and by MatchMessage between keys.
//
// When Go evaluation is needed the candidates are read in pages ordered by
// UID, and a page's rows are closed before its bodies are read: a search never
// holds two pool connections at once, so concurrent searches cannot starve the
// pool, and memory stays bounded by the page whatever the mailbox's size.
func (s *Store) Search(ctx context.Context, accountID, mailboxID int64, c store.Criteria) ([]uint32, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var one int
	err := s.pool.QueryRow(ctx, `SELECT 1 FROM mailboxes WHERE id = $1 AND account_id = $2`, mailboxID, accountID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("search: mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("search: mailbox %d: %w", mailboxID, err)
	}
	var args sqlArgs
	args.add(mailboxID)
	args.add(accountID)
	w := searchWhere(c, &args)
	if !store.NeedsGo(c) && w.exact {
		return s.searchSQL(ctx, w, args)
	}
	return s.searchGo(ctx, c, w, args)
}

// searchSQL answers criteria that the WHERE clause evaluates exactly: one
// query over messages (joined with bodies only for header or sent-date terms).
func (s *Store) searchSQL(ctx context.Context, w whereClause, args sqlArgs) ([]uint32, error) {
	from := `messages m`
	if w.bodies {
		from += ` JOIN bodies b ON b.id = m.body_id`
	}
	rows, err := s.pool.Query(ctx, `SELECT m.uid FROM `+from+`
		WHERE m.mailbox_id = $1 AND m.account_id = $2`+w.sql+` ORDER BY m.uid`, args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var uid int64
		if err := rows.Scan(&uid); err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		out = append(out, uint32(uid))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return out, nil
}

// searchPage is how many candidate rows are read per query when Go evaluates.
const searchPage = 500

// searchCandidate is one row that passed the WHERE clause.
type searchCandidate struct {
	m      store.SearchMessage
	bodyID int64
}

// searchGo runs store.MatchMessage over the rows that pass the WHERE clause,
// a page at a time.
func (s *Store) searchGo(ctx context.Context, c store.Criteria, w whereClause, args sqlArgs) ([]uint32, error) {
	cols := `m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.body_id`
	from := `messages m`
	if store.NeedsBodies(c) || w.bodies {
		cols += `, b.subject, b.h_from, b.h_to, b.h_cc, b.h_bcc, b.sent_date, b.sent_day, b.header, b.parsed`
		from += ` JOIN bodies b ON b.id = m.body_id`
	} else {
		cols += `, '', '', '', '', '', 0::BIGINT, 0::BIGINT, ''::BYTEA, ''::BYTEA`
	}
	after := args.add(int64(-1)) // keyset pagination: UIDs after the last page
	q := `SELECT ` + cols + ` FROM ` + from + `
		WHERE m.mailbox_id = $1 AND m.account_id = $2` + w.sql + ` AND m.uid > ` + after +
		` ORDER BY m.uid LIMIT ` + strconv.Itoa(searchPage)
	bodies := &bodyReader{s: s}
	defer bodies.close()
	var out []uint32
	for {
		page, err := s.searchCandidates(ctx, q, args)
		if err != nil {
			return nil, err
		}
		for i := range page {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("search: %w", err)
			}
			cand := &page[i]
			ok, err := store.MatchMessage(ctx, &cand.m, c, func() (io.ReadCloser, error) {
				raw, err := bodies.read(ctx, cand.bodyID)
				if err != nil {
					return nil, err
				}
				return io.NopCloser(bytes.NewReader(raw)), nil
			})
			if errors.Is(err, errBodyGone) {
				// GC removed the body after this page was read: the
				// message was expunged meanwhile, and no longer matches.
				continue
			}
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, cand.m.UID)
			}
		}
		if len(page) < searchPage {
			return out, nil
		}
		args[len(args)-1] = int64(page[len(page)-1].m.UID)
	}
}

// searchCandidates reads one page of candidates and closes its rows.
func (s *Store) searchCandidates(ctx context.Context, q string, args sqlArgs) ([]searchCandidate, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	defer rows.Close()
	var page []searchCandidate
	for rows.Next() {
		var (
			cand              searchCandidate
			uid, modseq, date int64
			kw                string
			m                 = &cand.m
		)
		err := rows.Scan(&uid, &modseq, &m.Flags.Bits, &kw, &date, &m.Size, &cand.bodyID,
			&m.Subject, &m.From, &m.To, &m.Cc, &m.Bcc, &m.SentDate, &m.SentDay, &m.Header, &m.Parsed)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		m.UID, m.ModSeq = uint32(uid), uint64(modseq)
		m.Flags.Keywords = store.DecodeKeywords(kw)
		m.InternalDate = fromUnix(date)
		page = append(page, cand)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	return page, nil
}

// sqlArgs collects a query's bound parameters; add returns the placeholder.
type sqlArgs []any

func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}

// maxSearchRanges is how many UID ranges go into SQL as BETWEEN terms, as in
// sqlstore; a larger set becomes its bounding range, and Go checks the set.
const maxSearchRanges = 200

// indexedColumn maps the header fields that bodies holds lower-cased (as
// store.IndexedHeader) to their columns.
func indexedColumn(field string) (string, bool) {
	switch strings.ToLower(field) {
	case "subject":
		return "b.subject", true
	case "from":
		return "b.h_from", true
	case "to":
		return "b.h_to", true
	case "cc":
		return "b.h_cc", true
	case "bcc":
		return "b.h_bcc", true
	}
	return "", false
}

// sqlText reports whether s can be bound as a PostgreSQL text parameter:
// valid UTF-8 without NUL (PostgreSQL rejects anything else). A term whose
// text cannot is left to Go, which compares bytes.
func sqlText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// whereClause is the SQL half of a search.
type whereClause struct {
	sql    string // " AND ..." conditions over messages m (and bodies b)
	bodies bool   // sql names bodies b: join it
	// exact: the conditions are the top-level terms (none left out or
	// widened), so that when store.NeedsGo is false too the rows they let
	// through are exactly the matches.
	exact bool
}

// searchWhere renders the top-level terms that the schema holds in columns
// as conditions with their values bound in args. Every condition is implied
// by c, so the rows it lets through are a superset of the matches. Only
// constants (flag bits) are written into the SQL text.
func searchWhere(c store.Criteria, args *sqlArgs) whereClause {
	var sb strings.Builder
	exact, bodies := true, false
	if c.UIDs != nil {
		sb.WriteString(" AND ")
		if !uidCond(&sb, c.UIDs, args) {
			exact = false
		}
	}
	flag := func(f string, set bool) {
		if bit, ok := store.SystemFlagBit(f); ok {
			op := "<>"
			if !set {
				op = "="
			}
			fmt.Fprintf(&sb, " AND m.flags & %d %s 0", bit, op)
			return
		}
		if !sqlText(f) {
			exact = false
			return
		}
		// Keywords are stored space-separated and are atoms (no spaces),
		// matched case-insensitively (store.FlagSet.Has).
		op := "> 0"
		if !set {
			op = "= 0"
		}
		sb.WriteString(" AND strpos(' ' || lower(m.keywords) || ' ', ' ' || lower(" + args.add(f) + ") || ' ') " + op)
	}
	for _, f := range c.WithFlags {
		flag(f, true)
	}
	for _, f := range c.WithoutFlg {
		flag(f, false)
	}
	for _, h := range c.Header {
		col, ok := indexedColumn(h.Field)
		if !ok || h.Value == "" {
			continue // store.NeedsGo is true for these
		}
		v := strings.ToLower(h.Value)
		if !sqlText(v) {
			exact = false
			continue
		}
		// strpos, not LIKE: the client's text is a plain substring, with no
		// pattern characters to escape. The column is lower-cased at delivery.
		sb.WriteString(" AND strpos(" + col + ", " + args.add(v) + ") > 0")
		bodies = true
	}
	if c.Larger > 0 {
		sb.WriteString(" AND m.size > " + args.add(c.Larger))
	}
	if c.Smaller > 0 {
		sb.WriteString(" AND m.size < " + args.add(c.Smaller))
	}
	for _, d := range []struct {
		t   *store.DateTerm
		cmp string
	}{{c.Before, "<"}, {c.On, "="}, {c.Since, ">="}} {
		if d.t != nil {
			dateCond(&sb, d.t, d.cmp, args)
			bodies = bodies || d.t.Field == store.DateSent
		}
	}
	if c.ModSeq > 0 {
		sb.WriteString(" AND m.modseq >= " + args.add(int64(c.ModSeq)))
	}
	if !c.YoungerThan.IsZero() {
		sb.WriteString(" AND m.internal_date >= " + args.add(c.YoungerThan.Unix()))
	}
	if !c.OlderThan.IsZero() {
		sb.WriteString(" AND m.internal_date < " + args.add(c.OlderThan.Unix()))
	}
	return whereClause{sql: sb.String(), bodies: bodies, exact: exact}
}

// uidCond writes the condition for a UID set; false if it is the set's
// bounding range (too many ranges), which lets more through.
func uidCond(sb *strings.Builder, set store.UIDSet, args *sqlArgs) bool {
	if len(set) == 0 {
		sb.WriteString("FALSE")
		return true
	}
	if len(set) > maxSearchRanges {
		lo, hi, open := uint32(0xFFFFFFFF), uint32(0), false
		for _, r := range set {
			lo = min(lo, r.Lo)
			hi = max(hi, r.Hi)
			open = open || r.Hi == 0
		}
		if open {
			sb.WriteString("m.uid >= " + args.add(int64(lo)))
		} else {
			sb.WriteString("m.uid BETWEEN " + args.add(int64(lo)) + " AND " + args.add(int64(hi)))
		}
		return false
	}
	sb.WriteString("(")
	for i, r := range set {
		if i > 0 {
			sb.WriteString(" OR ")
		}
		if r.Hi == 0 {
			sb.WriteString("m.uid >= " + args.add(int64(r.Lo)))
		} else {
			sb.WriteString("m.uid BETWEEN " + args.add(int64(r.Lo)) + " AND " + args.add(int64(r.Hi)))
		}
	}
	sb.WriteString(")")
	return true
}

// dateCond compares by calendar day (RFC 9051 6.4.4), as store.MatchMessage:
// the internal date's day in UTC, the sent date's day in its own zone
// (bodies.sent_day, computed at delivery); a message without a Date: header
// matches no sent-date term.
func dateCond(sb *strings.Builder, t *store.DateTerm, cmp string, args *sqlArgs) {
	if t.Field == store.DateSent {
		sb.WriteString(" AND b.sent_date <> 0 AND b.sent_day " + cmp + " " + args.add(store.DayNumber(t.Date)))
		return
	}
	start := store.DayStart(t.Date)
	switch cmp {
	case "<":
		sb.WriteString(" AND m.internal_date < " + args.add(start))
	case ">=":
		sb.WriteString(" AND m.internal_date >= " + args.add(start))
	default:
		sb.WriteString(" AND m.internal_date >= " + args.add(start) + " AND m.internal_date < " + args.add(start+86400))
	}
}

// bodyReader reads message bytes for one search: one zstd decoder for the
// whole command, and the last body read kept, so that copies of one message
// (one body, adjacent UIDs after a COPY) are read and decompressed once. It
// reads the rows Store.Open reads (bodies.go) but not through it: a search
// wants the first store.MaxSearchBody bytes whole (store.BodyText parses
// them), all its chunks in one query, and to tell a body that GC removed
// meanwhile (errBodyGone) from a failure.
type bodyReader struct {
	s      *Store
	dec    *zstd.Decoder
	lastID int64
	last   []byte
}

// errBodyGone: the body's row is gone (GC removed it after a search read the
// row of a message that was expunged meanwhile).
var errBodyGone = fmt.Errorf("message body gone: %w", store.ErrNotFound)

// read returns the first store.MaxSearchBody bytes of a body (all that
// store.BodyText reads): the chunks after that are not fetched or
// decompressed.
func (r *bodyReader) read(ctx context.Context, bodyID int64) ([]byte, error) {
	if r.last != nil && r.lastID == bodyID {
		return r.last, nil
	}
	if r.dec == nil {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(2*store.MaxSearchBody))
		if err != nil {
			return nil, fmt.Errorf("search: zstd: %w", err)
		}
		r.dec = dec
	}
	raw, err := readBody(ctx, r.s, r.dec, bodyID, store.MaxSearchBody)
	if err != nil {
		return nil, err
	}
	r.lastID, r.last = bodyID, raw
	return raw, nil
}

func (r *bodyReader) close() {
	if r.dec != nil {
		r.dec.Close()
	}
}

// readBody returns up to limit bytes of a body, decompressing its chunks in
// order: from one query when they are in body_chunks, else from the object
// store, only the chunks the limit needs.
func readBody(ctx context.Context, s *Store, dec *zstd.Decoder, bodyID, limit int64) ([]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT b.size, b.objects, c.n, c.data FROM bodies b
		LEFT JOIN body_chunks c ON c.body_id = b.id
		WHERE b.id = $1 ORDER BY c.n`, bodyID)
	if err != nil {
		return nil, fmt.Errorf("read body %d: %w", bodyID, err)
	}
	defer rows.Close()
	var out []byte
	var size int64
	var objects *string
	found, chunks := false, 0
	for rows.Next() {
		var n *int32
		var data []byte
		if err := rows.Scan(&size, &objects, &n, &data); err != nil {
			return nil, fmt.Errorf("read body %d: %w", bodyID, err)
		}
		found = true
		if n == nil || objects != nil {
			break // no chunks in the table: an empty body, or in the object store
		}
		if int(*n) != chunks {
			return nil, fmt.Errorf("read body %d: chunk %d missing", bodyID, chunks)
		}
		chunks++
		out, err = dec.DecodeAll(data, out)
		if err != nil {
			return nil, fmt.Errorf("read body %d: chunk %d: %w", bodyID, *n, err)
		}
		if int64(len(out)) >= limit {
			out = out[:limit]
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read body %d: %w", bodyID, err)
	}
	rows.Close()
	if !found {
		return nil, fmt.Errorf("read body %d: %w", bodyID, errBodyGone)
	}
	if objects == nil {
		return out, nil
	}
	for n := int64(0); n*chunkSize < min(size, limit); n++ {
		data, err := s.getChunk(ctx, *objects, n)
		if errors.Is(err, store.ErrNotFound) {
			// GC may have deleted the row, then its objects, since the
			// query above: that is errBodyGone, not damage.
			var one int
			if e := s.pool.QueryRow(ctx, `SELECT 1 FROM bodies WHERE id = $1`, bodyID).Scan(&one); errors.Is(e, pgx.ErrNoRows) {
				err = errBodyGone
			}
		}
		if err != nil {
			return nil, fmt.Errorf("read body %d: %w", bodyID, err)
		}
		if out, err = dec.DecodeAll(data, out); err != nil {
			return nil, fmt.Errorf("read body %d: chunk %d: %w", bodyID, n, err)
		}
	}
	return out[:min(int64(len(out)), limit)], nil
}
