package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gannet/internal/store"
)

// ListPage implements store.Store: List a page at a time (store.ListEach).
func (s *Store) ListPage(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, opts store.ListOptions, after uint32, limit int) ([]store.Message, error) {
	return store.Page(set, after, limit, func(batch store.UIDSet, n int) ([]store.Message, error) {
		return s.list(ctx, accountID, mailboxID, batch, opts, n)
	})
}

// SelectMailbox implements store.Store. It reads the mailbox row (whose
// counters the writes keep), the mailbox's tombstones, the first unseen
// message and the keywords in use, in one read transaction, and derives the
// UIDs from UIDNEXT and the tombstones (store.DenseUIDs); only when that
// does not add up are the UIDs read from the messages. The partial indexes
// of migration 0008 make the unseen and keyword queries touch only unseen
// messages and messages with keywords (docs/ARCHITECTURE.md, "Huge mailboxes").
func (s *Store) SelectMailbox(ctx context.Context, accountID, mailboxID int64) (*store.SelectState, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("select mailbox: %w", err)
	}
	defer tx.Rollback()
	mb, err := scanMailbox(s.r.txQueryRow(ctx, tx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = ? AND m.id = ?`, accountID, mailboxID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, err)
	}
	out := &store.SelectState{Mailbox: *mb}
	if out.UIDs, err = s.snapshotUIDs(ctx, tx, mb); err != nil {
		return nil, err
	}
	var first sql.NullInt64
	if err := s.r.txQueryRow(ctx, tx, `SELECT min(uid) FROM messages WHERE mailbox_id = ? AND flags & 1 = 0`, mailboxID).Scan(&first); err != nil {
		return nil, fmt.Errorf("select mailbox %d: first unseen: %w", mailboxID, err)
	}
	out.FirstUnseen = uint32(first.Int64)
	rows, err := s.r.txQuery(ctx, tx, `SELECT DISTINCT keywords FROM messages WHERE mailbox_id = ? AND keywords <> ''`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: keywords: %w", mailboxID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kw string
		if err := rows.Scan(&kw); err != nil {
			return nil, fmt.Errorf("select mailbox %d: keywords: %w", mailboxID, err)
		}
		out.Keywords = append(out.Keywords, store.DecodeKeywords(kw)...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select mailbox %d: keywords: %w", mailboxID, err)
	}
	slices.Sort(out.Keywords)
	out.Keywords = slices.Compact(out.Keywords)
	return out, nil
}

// snapshotUIDs is the UIDs of mb's messages inside the read transaction tx.
func (s *Store) snapshotUIDs(ctx context.Context, tx *sql.Tx, mb *store.Mailbox) (store.UIDSet, error) {
	// More tombstones than messages: reading the messages is cheaper.
	limit := max(mb.Messages, 1024) + 1
	rows, err := s.r.txQuery(ctx, tx, `SELECT uid FROM tombstones WHERE mailbox_id = ? AND uid < ? ORDER BY uid LIMIT ?`, mb.ID, mb.UIDNext, limit)
	if err != nil {
		return nil, fmt.Errorf("select mailbox %d: tombstones: %w", mb.ID, err)
	}
	var tomb []uint32
	for rows.Next() {
		var u uint32
		if err := rows.Scan(&u); err != nil {
			rows.Close()
			return nil, fmt.Errorf("select mailbox %d: tombstones: %w", mb.ID, err)
		}
		tomb = append(tomb, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select mailbox %d: tombstones: %w", mb.ID, err)
	}
	if int64(len(tomb)) < limit {
		if set, ok := store.DenseUIDs(mb.UIDNext, tomb, mb.Messages); ok {
			return set, nil
		}
	}
	// One aggregated value: database/sql costs about half a microsecond a
	// row, several times what SQLite takes to produce it.
	var list sql.NullString
	if err := s.r.txQueryRow(ctx, tx, `SELECT group_concat(uid, ',' ORDER BY uid) FROM messages WHERE mailbox_id = ?`, mb.ID).Scan(&list); err != nil {
		return nil, fmt.Errorf("select mailbox %d: uids: %w", mb.ID, err)
	}
	set := store.UIDSet{}
	for f := range strings.SplitSeq(list.String, ",") {
		if f == "" {
			continue
		}
		u, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("select mailbox %d: uid %q: %w", mb.ID, f, err)
		}
		if n := len(set); n > 0 && set[n-1].Hi+1 == uint32(u) {
			set[n-1].Hi = uint32(u)
			continue
		}
		set = append(set, store.UIDRange{Lo: uint32(u), Hi: uint32(u)})
	}
	return set, nil
}
