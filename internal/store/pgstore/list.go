package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"gannet/internal/message"
	"gannet/internal/store"
)

// maxUID is the largest UID (RFC 9051 2.3.1.1: a 32-bit value).
const maxUID = 0xFFFFFFFF

// uidRanges turns a UID set into sorted, disjoint inclusive ranges for
// unnest (a nil set is every UID; "*" is maxUID). Joined to messages by
// "uid BETWEEN lo AND hi", each range is one index range scan on the
// primary key, however large the mailbox and however many ranges.
func uidRanges(set store.UIDSet) (lo, hi []int64) {
	if set == nil {
		return []int64{1}, []int64{maxUID}
	}
	type r struct{ lo, hi int64 }
	rs := make([]r, 0, len(set))
	for _, x := range set {
		h := int64(x.Hi)
		if x.Hi == 0 {
			h = maxUID
		}
		l := int64(x.Lo)
		if l > h {
			l, h = h, l
		}
		rs = append(rs, r{l, h})
	}
	slices.SortFunc(rs, func(a, b r) int { return cmp.Compare(a.lo, b.lo) })
	for _, x := range rs {
		if n := len(lo); n > 0 && x.lo <= hi[n-1]+1 {
			hi[n-1] = max(hi[n-1], x.hi)
			continue
		}
		lo, hi = append(lo, x.lo), append(hi, x.hi)
	}
	return lo, hi
}

// inRanges joins messages m to the ranges in parameters $lo and $lo+1.
func inRanges(lo int) string {
	return fmt.Sprintf(` JOIN unnest($%d::BIGINT[], $%d::BIGINT[]) AS r(lo, hi) ON m.uid BETWEEN r.lo AND r.hi `, lo, lo+1)
}

// msgRow is a message row as read for an update.
type msgRow struct {
	uid    uint32
	modseq uint64
	flags  store.FlagSet
	size   int64
	bodyID int64
	date   int64
}

// selectRows reads the rows of the account's mailbox in a UID set, ascending,
// inside t; extra is an SQL condition on m added with AND.
func selectRows(ctx context.Context, t *tx, accountID, mailboxID int64, set store.UIDSet, extra string) ([]msgRow, error) {
	if set != nil && len(set) == 0 {
		return nil, nil
	}
	lo, hi := uidRanges(set)
	rows, err := t.Query(ctx, `SELECT m.uid, m.modseq, m.flags, m.keywords, m.size, m.body_id, m.internal_date
		FROM messages m`+inRanges(3)+`WHERE m.mailbox_id = $1 AND m.account_id = $2`+extra+` ORDER BY m.uid`,
		mailboxID, accountID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	defer rows.Close()
	var out []msgRow
	for rows.Next() {
		var r msgRow
		var uid, modseq int64
		var kw string
		if err := rows.Scan(&uid, &modseq, &r.flags.Bits, &kw, &r.size, &r.bodyID, &r.date); err != nil {
			return nil, fmt.Errorf("select messages: %w", err)
		}
		r.uid, r.modseq = uint32(uid), uint64(modseq)
		r.flags.Keywords = store.DecodeKeywords(kw)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	return out, nil
}

// ownMailbox checks that the mailbox belongs to the account, so that one
// account can never read, or detect, another's mailbox by guessing its id.
func ownMailbox(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, accountID, mailboxID int64) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM mailboxes WHERE id = $1 AND account_id = $2`, mailboxID, accountID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("mailbox %d: %w", mailboxID, err)
	}
	return nil
}

// messageCols are the columns scanMessage reads: messages m joined to
// bodies b (for the blob id, the hex hash the protocols pass to Open).
const messageCols = `m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, b.blob, m.pop_hidden`

func scanMessage(rows pgx.Rows, mailboxID int64, extra ...any) (store.Message, error) {
	var m store.Message
	var fs store.FlagSet
	var uid, modseq, date int64
	var kw string
	dst := append([]any{&uid, &modseq, &fs.Bits, &kw, &date, &m.Size, &m.BlobID, &m.POPHidden}, extra...)
	if err := rows.Scan(dst...); err != nil {
		return m, err
	}
	fs.Keywords = store.DecodeKeywords(kw)
	m.MailboxID = mailboxID
	m.UID, m.ModSeq = uint32(uid), uint64(modseq)
	m.Flags = fs.Names()
	m.InternalDate = fromUnix(date)
	return m, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, opts store.ListOptions) ([]store.Message, error) {
	return s.list(ctx, accountID, mailboxID, set, opts, 0)
}

// list is List of at most limit messages (0 = no limit).
func (s *Store) list(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, opts store.ListOptions, limit int) ([]store.Message, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if err := ownMailbox(ctx, s.pool, accountID, mailboxID); err != nil {
		return nil, err
	}
	if set != nil && len(set) == 0 {
		return nil, nil
	}
	lo, hi := uidRanges(set)
	if opts.FlagsOnly && !opts.Parsed {
		return s.listFlags(ctx, mailboxID, accountID, lo, hi, limit)
	}
	cols := messageCols
	if opts.Parsed {
		cols += `, b.parsed`
	}
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = limit
	}
	// One range is a plain range condition, so that a limited read walks
	// the primary key in order and stops (store.Page); a join to unnest
	// would be sorted after reading the whole range.
	ranges, args := inRanges(3), []any{mailboxID, accountID, lo, hi, lim}
	if len(lo) == 1 {
		ranges, args = ` `, []any{mailboxID, accountID, lo[0], hi[0], lim}
	}
	q := `SELECT ` + cols + ` FROM messages m` + ranges + `JOIN bodies b ON b.id = m.body_id
		WHERE m.mailbox_id = $1 AND m.account_id = $2`
	if len(lo) == 1 {
		q += ` AND m.uid BETWEEN $3 AND $4`
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY m.uid LIMIT $5`, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var parsed []byte
		var extra []any
		if opts.Parsed {
			extra = []any{&parsed}
		}
		m, err := scanMessage(rows, mailboxID, extra...)
		if err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		if opts.Parsed {
			p, err := message.Unmarshal(parsed)
			if err != nil {
				return nil, fmt.Errorf("message %d: decode parse results: %w", m.UID, err)
			}
			m.Parsed = p
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	return out, nil
}

// Changes implements store.Store (CONDSTORE CHANGEDSINCE, QRESYNC VANISHED).
func (s *Store) Changes(ctx context.Context, accountID, mailboxID int64, since uint64) (*store.Changes, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	// One REPEATABLE READ transaction: the messages, the tombstones and
	// HIGHESTMODSEQ are one consistent snapshot.
	rtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer func() { _ = rtx.Rollback(context.WithoutCancel(ctx)) }()
	out := &store.Changes{}
	var hm int64
	err = rtx.QueryRow(ctx, `SELECT highest_modseq FROM mailboxes WHERE id = $1 AND account_id = $2`, mailboxID, accountID).Scan(&hm)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	out.HighestModSeq = uint64(hm)
	rows, err := rtx.Query(ctx, `SELECT `+messageCols+` FROM messages m JOIN bodies b ON b.id = m.body_id
		WHERE m.mailbox_id = $1 AND m.modseq > $2 ORDER BY m.uid`, mailboxID, int64(since))
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	for rows.Next() {
		m, err := scanMessage(rows, mailboxID)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("changes: %w", err)
		}
		out.Changed = append(out.Changed, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	trows, err := rtx.Query(ctx, `SELECT uid FROM tombstones WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, mailboxID, int64(since))
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	uids, err := pgx.CollectRows(trows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	for _, u := range uids {
		out.Vanished = append(out.Vanished, uint32(u))
	}
	return out, nil
}
