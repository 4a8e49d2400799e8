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
	// INDEXED BY: without statistics SQLite walks the primary key for min()
	// and tests every seen message on the way.
	var first sql.NullInt64
	if err := s.r.txQueryRow(ctx, tx, `SELECT min(uid) FROM messages INDEXED BY messages_unseen WHERE mailbox_id = ? AND flags & 1 = 0`, mailboxID).Scan(&first); err != nil {
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

// listFlags is list with ListOptions.FlagsOnly: UID, MODSEQ and flags of
// the messages matching cond, read as three aggregated text values a page
// rather than a row at a time. database/sql and the pure-Go driver cost
// about two microseconds a row of eight columns, most of it per column,
// and inside SQLite turning an integer into text is the dearest step; so
// the UID and the system flags travel as one number (uid*32 + flags: five
// flag bits, store.FlagBit*), the MODSEQ as another, and keywords only for
// the messages that have any (docs/ARCHITECTURE.md, "Huge mailboxes").
// The values are in the subquery's UID order, which SQLite's aggregates
// follow; the order is checked, not trusted (an aggregate's own ORDER BY
// costs a sort).
func (s *Store) listFlags(ctx context.Context, mailboxID int64, cond string, args []any, limit int) ([]store.Message, error) {
	// No test of account_id on every row: list checked that the account
	// owns the mailbox.
	args = append([]any{mailboxID}, args...)
	if limit <= 0 {
		return s.flagsQuery(ctx, mailboxID, `FROM messages m WHERE m.mailbox_id = ? AND `+cond, args)
	}
	return s.flagsQuery(ctx, mailboxID, `FROM (SELECT m.uid, m.modseq, m.flags, m.keywords FROM messages m
		WHERE m.mailbox_id = ? AND `+cond+` ORDER BY m.uid LIMIT ?)`, append(args, limit))
}

// listFlagsRange is listFlags of at most limit messages of the UIDs lo to
// hi, a page of store.Page's one wide range. A page of a mailbox whose UIDs
// are dense is read as the UIDs lo to lo+limit-1, which holds at most limit
// messages, without a LIMIT: SQLite then aggregates straight off the
// primary key instead of through a subquery, a fifth less work. A range
// that turns out sparse is read with a LIMIT for the rest of the page.
func (s *Store) listFlagsRange(ctx context.Context, mailboxID int64, lo, hi uint32, limit int) ([]store.Message, error) {
	var out []store.Message
	dense := true
	for len(out) < limit && lo <= hi {
		need := limit - len(out)
		if !dense {
			more, err := s.listFlags(ctx, mailboxID, `m.uid BETWEEN ? AND ?`, []any{lo, hi}, need)
			return append(out, more...), err
		}
		end := uint32(min(uint64(lo)+uint64(need)-1, uint64(hi)))
		more, err := s.flagsQuery(ctx, mailboxID, `FROM messages m WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ?`, []any{mailboxID, lo, end})
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
		if end == hi {
			break
		}
		lo, dense = end+1, len(more) >= need*3/4
	}
	return out, nil
}

// flagsQuery runs listFlags's aggregate over from (rows uid, modseq, flags,
// keywords in UID order) and parses it.
func (s *Store) flagsQuery(ctx context.Context, mailboxID int64, from string, args []any) ([]store.Message, error) {
	var uidFlags, modseqs, kws sql.NullString
	err := s.r.QueryRowContext(ctx, `SELECT group_concat(uid * 32 + (flags & 31), ' '), group_concat(modseq, ' '),
		group_concat(CASE WHEN keywords <> '' THEN uid || ' ' || keywords END, char(10)) `+from, args...).Scan(&uidFlags, &modseqs, &kws)
	if err != nil {
		return nil, fmt.Errorf("list flags: %w", err)
	}
	if uidFlags.String == "" {
		return nil, nil
	}
	out := make([]store.Message, strings.Count(uidFlags.String, " ")+1)
	var names store.FlagNames
	us, ms, ks := uidFlags.String, modseqs.String, kws.String
	// The next message with keywords, and its keywords.
	kwUID, kw := uint64(0), ""
	nextKeywords := func() error {
		var line string
		line, ks, _ = strings.Cut(ks, "\n")
		if line == "" {
			kwUID = 0
			return nil
		}
		u, k, _ := strings.Cut(line, " ")
		var err error
		kwUID, err = strconv.ParseUint(u, 10, 32)
		kw = k
		return err
	}
	if err := nextKeywords(); err != nil {
		return nil, fmt.Errorf("list flags: %w", err)
	}
	for i := range out {
		var uf, m string
		uf, us, _ = strings.Cut(us, " ")
		m, ms, _ = strings.Cut(ms, " ")
		packed, err1 := strconv.ParseUint(uf, 10, 64)
		modseq, err2 := strconv.ParseUint(m, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("list flags: %w", err)
		}
		uid, bits := packed>>5, int64(packed&31)
		if i > 0 && uint32(uid) <= out[i-1].UID {
			return nil, fmt.Errorf("list flags: UIDs out of order (%d after %d)", uid, out[i-1].UID)
		}
		k := ""
		if uid == kwUID {
			k = kw
			if err := nextKeywords(); err != nil {
				return nil, fmt.Errorf("list flags: %w", err)
			}
		}
		out[i] = store.Message{MailboxID: mailboxID, UID: uint32(uid), ModSeq: modseq, Flags: names.Of(bits, k)}
	}
	if kwUID != 0 {
		return nil, fmt.Errorf("list flags: keywords of UID %d out of order", kwUID)
	}
	return out, nil
}
