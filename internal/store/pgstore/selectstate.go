package pgstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// ListPage implements store.Store: List a page at a time (store.ListEach).
func (s *Store) ListPage(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, opts store.ListOptions, after uint32, limit int) ([]store.Message, error) {
	return store.Page(set, after, limit, func(batch store.UIDSet, n int) ([]store.Message, error) {
		return s.list(ctx, accountID, mailboxID, batch, opts, n)
	})
}

// SelectMailbox implements store.Store. As sqlstore's: the mailbox row
// (whose counters the writes keep), the tombstones, the first unseen message
// and the keywords in use, in one snapshot, the UIDs derived
// from UIDNEXT and the tombstones (store.DenseUIDs) and read from the
// messages only when that does not add up. Migration 0005's partial indexes
// serve the unseen and keyword queries (docs/ARCHITECTURE.md, "Huge mailboxes").
func (s *Store) SelectMailbox(ctx context.Context, accountID, mailboxID int64) (*store.SelectState, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	// The usual case in one statement (one snapshot, one round trip): the
	// mailbox row, the first unseen UID, the keywords and the tombstones.
	// When the UIDs do not add up, the transaction below reads them too.
	var mb store.Mailbox
	var uv, next, hm int64
	var first *int64
	var kws []string
	var t64 []int64
	err := s.pool.QueryRow(ctx, `SELECT `+mailboxCols+`,
		(SELECT min(uid) FROM messages WHERE mailbox_id = m.id AND flags & 1 = 0),
		ARRAY(SELECT DISTINCT keywords FROM messages WHERE mailbox_id = m.id AND keywords <> ''),
		ARRAY(SELECT uid FROM tombstones WHERE mailbox_id = m.id AND uid < m.uidnext ORDER BY uid LIMIT greatest(m.messages, 1024) + 1)
		FROM mailboxes m WHERE m.account_id = $1 AND m.id = $2`, accountID, mailboxID).Scan(
		&mb.ID, &mb.AccountID, &mb.Name, &mb.SpecialUse, &uv, &next, &hm,
		&mb.Messages, &mb.Unseen, &mb.Deleted, &mb.Size, &mb.Subscribed, &first, &kws, &t64)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: %w", mailboxID, err)
	}
	mb.UIDValidity, mb.UIDNext, mb.HighestModSeq = uint32(uv), uint32(next), uint64(hm)
	if int64(len(t64)) <= max(mb.Messages, 1024) {
		tomb := make([]uint32, len(t64))
		for i, u := range t64 {
			tomb[i] = uint32(u)
		}
		if set, ok := store.DenseUIDs(mb.UIDNext, tomb, mb.Messages); ok {
			out := &store.SelectState{Mailbox: mb, UIDs: set}
			if first != nil {
				out.FirstUnseen = uint32(*first)
			}
			out.Keywords = decodeKeywordSet(kws)
			return out, nil
		}
	}
	return s.selectMailboxTx(ctx, accountID, mailboxID)
}

// decodeKeywordSet turns distinct stored keyword strings into the sorted
// keywords they hold.
func decodeKeywordSet(stored []string) []string {
	var out []string
	for _, kw := range stored {
		out = append(out, store.DecodeKeywords(kw)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// selectMailboxTx is SelectMailbox in a REPEATABLE READ transaction, for a
// mailbox whose UIDs must be read from its messages.
func (s *Store) selectMailboxTx(ctx context.Context, accountID, mailboxID int64) (*store.SelectState, error) {
	rtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("select mailbox: %w", err)
	}
	defer func() { _ = rtx.Rollback(context.WithoutCancel(ctx)) }()
	mb, err := scanMailbox(rtx.QueryRow(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = $1 AND m.id = $2`, accountID, mailboxID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, err)
	}
	out := &store.SelectState{Mailbox: *mb}
	if out.UIDs, err = snapshotUIDs(ctx, rtx, mb); err != nil {
		return nil, err
	}
	var first *int64
	if err := rtx.QueryRow(ctx, `SELECT min(uid) FROM messages WHERE mailbox_id = $1 AND flags & 1 = 0`, mailboxID).Scan(&first); err != nil {
		return nil, fmt.Errorf("select mailbox %d: first unseen: %w", mailboxID, err)
	}
	if first != nil {
		out.FirstUnseen = uint32(*first)
	}
	rows, err := rtx.Query(ctx, `SELECT DISTINCT keywords FROM messages WHERE mailbox_id = $1 AND keywords <> ''`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: keywords: %w", mailboxID, err)
	}
	kws, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: keywords: %w", mailboxID, err)
	}
	out.Keywords = decodeKeywordSet(kws)
	return out, nil
}

// snapshotUIDs is the UIDs of mb's messages inside the snapshot rtx.
func snapshotUIDs(ctx context.Context, rtx pgx.Tx, mb *store.Mailbox) (store.UIDSet, error) {
	// More tombstones than messages: reading the messages is cheaper.
	limit := max(mb.Messages, 1024) + 1
	rows, err := rtx.Query(ctx, `SELECT uid FROM tombstones WHERE mailbox_id = $1 AND uid < $2 ORDER BY uid LIMIT $3`, mb.ID, int64(mb.UIDNext), limit)
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: tombstones: %w", mb.ID, err)
	}
	t64, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: tombstones: %w", mb.ID, err)
	}
	if int64(len(t64)) < limit {
		tomb := make([]uint32, len(t64))
		for i, u := range t64 {
			tomb[i] = uint32(u)
		}
		if set, ok := store.DenseUIDs(mb.UIDNext, tomb, mb.Messages); ok {
			return set, nil
		}
	}
	// One array value rather than a row per message.
	var uids []int64
	if err := rtx.QueryRow(ctx, `SELECT coalesce(array_agg(uid ORDER BY uid), '{}') FROM messages WHERE mailbox_id = $1`, mb.ID).Scan(&uids); err != nil {
		return nil, fmt.Errorf("select mailbox %d: uids: %w", mb.ID, err)
	}
	u32 := make([]uint32, len(uids))
	for i, u := range uids {
		u32[i] = uint32(u)
	}
	return store.UIDRuns(u32), nil
}

// listFlags is list with ListOptions.FlagsOnly: UID, MODSEQ and flags only,
// without the join to bodies (docs/ARCHITECTURE.md, "Huge mailboxes").
// lo and hi are uidRanges' ranges; one range is a plain range condition,
// as in list.
func (s *Store) listFlags(ctx context.Context, mailboxID, accountID int64, lo, hi []int64, limit int) ([]store.Message, error) {
	var lim any // NULL: LIMIT ALL
	if limit > 0 {
		lim = limit
	}
	q := `SELECT m.uid, m.modseq, m.flags, m.keywords FROM messages m` + inRanges(3) + `WHERE m.mailbox_id = $1 AND m.account_id = $2`
	args := []any{mailboxID, accountID, lo, hi, lim}
	if len(lo) == 1 {
		q = `SELECT m.uid, m.modseq, m.flags, m.keywords FROM messages m WHERE m.mailbox_id = $1 AND m.account_id = $2 AND m.uid BETWEEN $3 AND $4`
		args = []any{mailboxID, accountID, lo[0], hi[0], lim}
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY m.uid LIMIT $5`, args...)
	if err != nil {
		return nil, fmt.Errorf("list flags: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	if limit > 0 {
		out = make([]store.Message, 0, limit)
	}
	var names store.FlagNames
	// The three integers come in binary (pgx asks for it for int8): read
	// from the raw values they cost no allocation; Scan is the fallback.
	fds := rows.FieldDescriptions()
	raw := len(fds) == 4 && fds[0].Format == pgx.BinaryFormatCode && fds[1].Format == pgx.BinaryFormatCode && fds[2].Format == pgx.BinaryFormatCode
	for rows.Next() {
		var uid, modseq, bits int64
		var kw string
		if v := rows.RawValues(); raw && len(v) == 4 && len(v[0]) == 8 && len(v[1]) == 8 && len(v[2]) == 8 {
			uid, modseq, bits = int64(binary.BigEndian.Uint64(v[0])), int64(binary.BigEndian.Uint64(v[1])), int64(binary.BigEndian.Uint64(v[2]))
			if len(v[3]) > 0 {
				kw = string(v[3])
			}
		} else if err := rows.Scan(&uid, &modseq, &bits, &kw); err != nil {
			return nil, fmt.Errorf("list flags: %w", err)
		}
		out = append(out, store.Message{MailboxID: mailboxID, UID: uint32(uid), ModSeq: uint64(modseq), Flags: names.Of(bits, kw)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list flags: %w", err)
	}
	return out, nil
}
