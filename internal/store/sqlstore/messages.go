package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strings"

	"gannet/internal/message"
	"gannet/internal/store"
)

// maxSQLRanges is how many UID ranges go into SQL as BETWEEN terms; a larger set
// is narrowed to its bounds in SQL and filtered exactly in Go.
const maxSQLRanges = 200

// uidWhere renders a UID set as a SQL condition on column col.
func uidWhere(col string, set store.UIDSet) (string, []any, bool) {
	if set == nil {
		return "1", nil, true
	}
	if len(set) == 0 {
		return "0", nil, true
	}
	if len(set) > maxSQLRanges {
		lo, hi := uint32(0xFFFFFFFF), uint32(0)
		open := false
		for _, r := range set {
			lo = min(lo, r.Lo)
			if r.Hi == 0 {
				open = true
			}
			hi = max(hi, r.Hi)
		}
		if open {
			return col + " >= ?", []any{lo}, false
		}
		return col + " BETWEEN ? AND ?", []any{lo, hi}, false
	}
	if len(set) == 1 {
		if r := set[0]; r.Hi != 0 {
			return col + " BETWEEN ? AND ?", []any{r.Lo, r.Hi}, true
		}
		return col + " >= ?", []any{set[0].Lo}, true
	}
	// The bounds first, so that SQLite reads the primary key between them
	// rather than the whole mailbox (it does not turn an OR of ranges into
	// index ranges).
	lo, hi := uint32(0xFFFFFFFF), uint32(0)
	for _, r := range set {
		lo = min(lo, r.Lo)
		if r.Hi == 0 {
			hi = 0xFFFFFFFF
		}
		hi = max(hi, r.Hi)
	}
	var sb strings.Builder
	args := []any{lo, hi}
	sb.WriteString(col + " BETWEEN ? AND ? AND (")
	for i, r := range set {
		if i > 0 {
			sb.WriteString(" OR ")
		}
		if r.Hi == 0 {
			sb.WriteString(col + " >= ?")
			args = append(args, r.Lo)
		} else {
			sb.WriteString(col + " BETWEEN ? AND ?")
			args = append(args, r.Lo, r.Hi)
		}
	}
	sb.WriteString(")")
	return sb.String(), args, true
}

// msgRow is a message row as read for an update.
type msgRow struct {
	uid    uint32
	modseq uint64
	flags  store.FlagSet
	size   int64
	blob   string
	date   int64
}

// selectRows reads the rows of a mailbox in a UID set, ascending, inside tx.
func selectRows(ctx context.Context, q querier, accountID, mailboxID int64, set store.UIDSet, extra string) ([]msgRow, error) {
	cond, args, exact := uidWhere("uid", set)
	rows, err := q.QueryContext(ctx, `SELECT uid, modseq, flags, keywords, size, blob, internal_date FROM messages
		WHERE mailbox_id = ? AND account_id = ? AND `+cond+extra+` ORDER BY uid`,
		append([]any{mailboxID, accountID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	defer rows.Close()
	var out []msgRow
	for rows.Next() {
		var r msgRow
		var kw string
		if err := rows.Scan(&r.uid, &r.modseq, &r.flags.Bits, &kw, &r.size, &r.blob, &r.date); err != nil {
			return nil, err
		}
		if !exact && !set.Contains(r.uid) {
			continue
		}
		r.flags.Keywords = store.DecodeKeywords(kw)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ownMailboxRead checks that the mailbox belongs to the account, so that one
// account can never read, or detect, another's mailbox by guessing its ID.
func (s *Store) ownMailboxRead(ctx context.Context, accountID, mailboxID int64) error {
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE id = ? AND account_id = ?`, mailboxID, accountID).Scan(&one); err != nil {
		return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return nil
}

// ownMailbox checks inside tx that the mailbox belongs to the account.
func ownMailbox(ctx context.Context, tx *wtx, accountID, mailboxID int64) error {
	var one int
	if err := tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE id = ? AND account_id = ?`, mailboxID, accountID).Scan(&one); err != nil {
		return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	return nil
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
	if err := s.ownMailboxRead(ctx, accountID, mailboxID); err != nil {
		return nil, err
	}
	if opts.FlagsOnly && !opts.Parsed && limit > 0 && len(set) == 1 && set[0].Hi != 0 && set[0].Lo <= set[0].Hi {
		return s.listFlagsRange(ctx, mailboxID, set[0].Lo, set[0].Hi, limit)
	}
	cond, args, exact := uidWhere("m.uid", set)
	if opts.FlagsOnly && !opts.Parsed && exact {
		return s.listFlags(ctx, mailboxID, cond, args, limit)
	}
	cols := `m.uid, m.modseq, m.flags, m.keywords, m.internal_date, m.size, m.blob, m.pop_hidden`
	from := `messages m`
	if opts.Parsed {
		cols += `, b.parsed`
		from += ` JOIN bodies b ON b.blob = m.blob`
	}
	tail := ` ORDER BY m.uid`
	args = append([]any{mailboxID, accountID}, args...)
	if limit > 0 && exact {
		// An inexact condition is filtered in Go below, so it cannot be
		// limited in SQL; such a page is bounded by the loop instead.
		tail += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+cols+` FROM `+from+`
		WHERE m.mailbox_id = ? AND m.account_id = ? AND `+cond+tail, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var m store.Message
		var fs store.FlagSet
		var kw string
		var date int64
		var parsed []byte
		dst := []any{&m.UID, &m.ModSeq, &fs.Bits, &kw, &date, &m.Size, &m.BlobID, &m.POPHidden}
		if opts.Parsed {
			dst = append(dst, &parsed)
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("list messages: %w", err)
		}
		if !exact && !set.Contains(m.UID) {
			continue
		}
		fs.Keywords = store.DecodeKeywords(kw)
		m.MailboxID = mailboxID
		m.Flags = fs.Names()
		m.InternalDate = fromUnix(date)
		if opts.Parsed {
			p, err := message.Unmarshal(parsed)
			if err != nil {
				return nil, fmt.Errorf("message %d: decode parse results: %w", m.UID, err)
			}
			m.Parsed = p
		}
		out = append(out, m)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, rows.Err()
}

// copyTx copies messages into dst with new UIDs, keeping flags and internal dates
// (RFC 9051 6.4.7). The blobs are shared, not copied.
func (s *Store) copyTx(ctx context.Context, tx *wtx, accountID, src int64, set store.UIDSet, dst int64, quota bool) (*store.CopyResult, []msgRow, error) {
	if err := ownMailbox(ctx, tx, accountID, src); err != nil {
		return nil, nil, err
	}
	if err := ownMailbox(ctx, tx, accountID, dst); err != nil {
		return nil, nil, err
	}
	rows, err := selectRows(ctx, tx, accountID, src, set, "")
	if err != nil {
		return nil, nil, err
	}
	if err := tx.alone(len(rows)); err != nil {
		return nil, nil, err
	}
	res := &store.CopyResult{}
	if len(rows) == 0 {
		return res, nil, nil
	}
	msgs := make([]newMessage, len(rows))
	for i, r := range rows {
		msgs[i] = newMessage{blob: r.blob, size: r.size, flags: r.flags, date: r.date}
		res.SrcUIDs = append(res.SrcUIDs, r.uid)
	}
	uv, uids, err := insertMessages(ctx, tx, accountID, dst, msgs, quota)
	if err != nil {
		return nil, nil, err
	}
	res.UIDValidity = uv
	res.DstUIDs = uids
	return res, rows, nil
}

// Copy implements store.Store.
func (s *Store) Copy(ctx context.Context, accountID, src int64, set store.UIDSet, dst int64) (*store.CopyResult, error) {
	var res *store.CopyResult
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		res, _, err = s.copyTx(ctx, tx, accountID, src, set, dst, true)
		return err
	})
	return res, err
}

func (s *Store) moveTx(ctx context.Context, tx *wtx, accountID, src int64, set store.UIDSet, dst int64) (*store.CopyResult, error) {
	res, rows, err := s.copyTx(ctx, tx, accountID, src, set, dst, false)
	if err != nil {
		return nil, err
	}
	if err := removeRows(ctx, tx, accountID, src, rows); err != nil {
		return nil, err
	}
	return res, nil
}

// Move implements store.Store (RFC 6851): copy and expunge in one transaction.
// The target may be the source itself (RFC 6851 3.3): new UIDs, old expunged.
func (s *Store) Move(ctx context.Context, accountID, src int64, set store.UIDSet, dst int64) (*store.CopyResult, error) {
	var res *store.CopyResult
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		res, err = s.moveTx(ctx, tx, accountID, src, set, dst)
		return err
	})
	return res, err
}

// removeRows deletes messages, leaves tombstones under one new MODSEQ and keeps
// the counters in step.
func removeRows(ctx context.Context, tx *wtx, accountID, mailboxID int64, rows []msgRow) error {
	if len(rows) == 0 {
		return nil
	}
	modseq, err := bumpModSeq(ctx, tx, accountID)
	if err != nil {
		return err
	}
	var size, unseen, deleted int64
	uids := make([]uint32, len(rows))
	for i, r := range rows {
		uids[i] = r.uid
		size += r.size
		unseen += store.Unseen(r.flags.Bits)
		deleted += store.Deleted(r.flags.Bits)
		if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE mailbox_id = ? AND uid = ?`, mailboxID, r.uid); err != nil {
			return fmt.Errorf("expunge: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tombstones(mailbox_id, uid, modseq) VALUES(?, ?, ?)`, mailboxID, r.uid, modseq); err != nil {
			return fmt.Errorf("expunge: %w", err)
		}
	}
	n := int64(len(rows))
	if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET messages = messages - ?, unseen = unseen - ?, deleted = deleted - ?,
		size = size - ?, highest_modseq = ? WHERE id = ?`, n, unseen, deleted, size, modseq, mailboxID); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET used_bytes = used_bytes - ?, used_messages = used_messages - ? WHERE id = ?`,
		size, n, accountID); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	tx.publish(store.Change{AccountID: accountID, MailboxID: mailboxID, ModSeq: modseq, Kind: store.ChangeExpunge, UIDs: uids})
	return nil
}

// Expunge implements store.Store (EXPUNGE, UID EXPUNGE of RFC 4315).
func (s *Store) Expunge(ctx context.Context, accountID, mailboxID int64, set store.UIDSet) ([]uint32, error) {
	var uids []uint32
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if err := ownMailbox(ctx, tx, accountID, mailboxID); err != nil {
			return err
		}
		rows, err := selectRows(ctx, tx, accountID, mailboxID, set, fmt.Sprintf(" AND flags & %d != 0", store.FlagBitDeleted))
		if err != nil {
			return err
		}
		if err := tx.alone(len(rows)); err != nil {
			return err
		}
		uids = uids[:0]
		for _, r := range rows {
			uids = append(uids, r.uid)
		}
		return removeRows(ctx, tx, accountID, mailboxID, rows)
	})
	return uids, err
}

// ExpungeUIDs implements store.Store.
func (s *Store) ExpungeUIDs(ctx context.Context, accountID, mailboxID int64, list []uint32) ([]uint32, error) {
	set := make(store.UIDSet, len(list))
	for i, u := range list {
		set[i] = store.UIDRange{Lo: u, Hi: u}
	}
	if len(list) == 0 {
		return nil, nil
	}
	var uids []uint32
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if err := ownMailbox(ctx, tx, accountID, mailboxID); err != nil {
			return err
		}
		rows, err := selectRows(ctx, tx, accountID, mailboxID, set, "")
		if err != nil {
			return err
		}
		if err := tx.alone(len(rows)); err != nil {
			return err
		}
		uids = uids[:0]
		for _, r := range rows {
			uids = append(uids, r.uid)
		}
		return removeRows(ctx, tx, accountID, mailboxID, rows)
	})
	return uids, err
}

// SetPOPHidden implements store.Store.
func (s *Store) SetPOPHidden(ctx context.Context, accountID, mailboxID int64, list []uint32) error {
	if len(list) == 0 {
		return nil
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if err := tx.alone(len(list)); err != nil {
			return err
		}
		if err := ownMailbox(ctx, tx, accountID, mailboxID); err != nil {
			return err
		}
		for _, u := range list {
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET pop_hidden = 1 WHERE mailbox_id = ? AND uid = ?`, mailboxID, u); err != nil {
				return fmt.Errorf("hide from pop3: %w", err)
			}
		}
		return nil
	})
}

// StoreFlags implements store.Store (STORE, RFC 9051 6.4.6; UNCHANGEDSINCE, RFC 7162 3.1.3).
// All messages changed by one call share one new MODSEQ; unchanged ones keep theirs.
func (s *Store) StoreFlags(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, op store.FlagOp, flags []string, unchangedSince uint64) (*store.StoreResult, error) {
	arg, err := store.ParseFlags(flags)
	if err != nil {
		return nil, err
	}
	res := &store.StoreResult{}
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		*res = store.StoreResult{}
		if err := ownMailbox(ctx, tx, accountID, mailboxID); err != nil {
			return err
		}
		rows, err := selectRows(ctx, tx, accountID, mailboxID, set, "")
		if err != nil {
			return err
		}
		if err := tx.alone(len(rows)); err != nil {
			return err
		}
		var modseq uint64
		var dUnseen, dDeleted int64
		for _, r := range rows {
			if unchangedSince > 0 && r.modseq > unchangedSince {
				res.Modified = append(res.Modified, r.uid)
				continue
			}
			nf := r.flags.Apply(op, arg)
			if nf.Equal(r.flags) {
				continue
			}
			if modseq == 0 {
				if modseq, err = bumpModSeq(ctx, tx, accountID); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?`,
				nf.Bits, nf.KeywordString(), modseq, mailboxID, r.uid); err != nil {
				return fmt.Errorf("store flags: %w", err)
			}
			dUnseen += store.Unseen(nf.Bits) - store.Unseen(r.flags.Bits)
			dDeleted += store.Deleted(nf.Bits) - store.Deleted(r.flags.Bits)
			res.Updated = append(res.Updated, store.FlagUpdate{UID: r.uid, ModSeq: modseq, Flags: nf.Names()})
		}
		if modseq == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET unseen = unseen + ?, deleted = deleted + ?, highest_modseq = ? WHERE id = ?`,
			dUnseen, dDeleted, modseq, mailboxID); err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
		uids := make([]uint32, len(res.Updated))
		for i, u := range res.Updated {
			uids[i] = u.UID
		}
		tx.publish(store.Change{AccountID: accountID, MailboxID: mailboxID, ModSeq: modseq, Kind: store.ChangeFlags, UIDs: uids})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Changes implements store.Store (CONDSTORE CHANGEDSINCE, QRESYNC VANISHED).
func (s *Store) Changes(ctx context.Context, accountID, mailboxID int64, since uint64) (*store.Changes, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	// One read transaction so that the messages, the tombstones and HIGHESTMODSEQ
	// are one consistent snapshot.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer tx.Rollback()
	out := &store.Changes{}
	if err := s.r.txQueryRow(ctx, tx, `SELECT highest_modseq FROM mailboxes WHERE id = ? AND account_id = ?`, mailboxID, accountID).Scan(&out.HighestModSeq); err != nil {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	rows, err := s.r.txQuery(ctx, tx, `SELECT uid, modseq, flags, keywords, internal_date, size, blob, pop_hidden FROM messages
		WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxID, since)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	for rows.Next() {
		var m store.Message
		var fs store.FlagSet
		var kw string
		var date int64
		if err := rows.Scan(&m.UID, &m.ModSeq, &fs.Bits, &kw, &date, &m.Size, &m.BlobID, &m.POPHidden); err != nil {
			rows.Close()
			return nil, err
		}
		fs.Keywords = store.DecodeKeywords(kw)
		m.MailboxID = mailboxID
		m.Flags = fs.Names()
		m.InternalDate = fromUnix(date)
		out.Changed = append(out.Changed, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	trows, err := s.r.txQuery(ctx, tx, `SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`, mailboxID, since)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var uid uint32
		if err := trows.Scan(&uid); err != nil {
			return nil, err
		}
		out.Vanished = append(out.Vanished, uid)
	}
	return out, trows.Err()
}

// Open implements store.Store.
func (s *Store) Open(ctx context.Context, blobID string) (io.ReadCloser, error) {
	return s.open(ctx, blobID, 0, -1)
}

// OpenRange implements store.Store.
func (s *Store) OpenRange(ctx context.Context, blobID string, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("open message range (%d, %d): %w", off, n, store.ErrInvalidName)
	}
	return s.open(ctx, blobID, off, n)
}

// open returns bytes [off, off+n) of a message; n < 0 means all of it.
func (s *Store) open(ctx context.Context, blobID string, off, n int64) (io.ReadCloser, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	whole := n < 0
	buf, data, inline, err := s.inline(ctx, blobID)
	if err != nil {
		return nil, err
	}
	if inline {
		if buf == nil {
			return io.NopCloser(bytes.NewReader(nil)), nil // an empty message
		}
		if !whole {
			off = min(off, int64(len(data)))
			data = data[off : off+min(n, int64(len(data))-off)]
		}
		return s.bodies.reader(buf, data), nil
	}
	var rc io.ReadCloser
	if whole {
		rc, err = s.blobs.Open(blobID)
	} else {
		rc, err = s.blobs.OpenRange(blobID, off, n)
	}
	if err != nil {
		return nil, fmt.Errorf("open message: %w", store.ErrNotFound)
	}
	return rc, nil
}

// inline returns the message bytes when they are kept in the database, decoded
// into a pooled buffer (nil for an empty message) that the caller gives back.
//
// The compressed bytes are scanned as sql.RawBytes and decoded before the rows
// are closed: the driver already hands database/sql a copy of its own, and
// scanning into a []byte copied them once more.
func (s *Store) inline(ctx context.Context, blobID string) (buf *[]byte, raw []byte, inline bool, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT data, size FROM bodies WHERE blob = ?`, blobID)
	if err != nil {
		return nil, nil, false, fmt.Errorf("open message: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, nil, false, fmt.Errorf("open message: %w", err)
		}
		return nil, nil, false, fmt.Errorf("open message: %w", store.ErrNotFound)
	}
	var data sql.RawBytes
	var size int64
	if err := rows.Scan(&data, &size); err != nil {
		return nil, nil, false, fmt.Errorf("open message: %w", err)
	}
	if size == 0 {
		return nil, nil, true, nil // an empty message: nothing was compressed or filed
	}
	if data == nil {
		return nil, nil, false, nil
	}
	buf = s.bodies.get(size)
	raw, err = s.blobs.DecompressInto(*buf, data, size)
	if err != nil {
		s.bodies.put(buf)
		return nil, nil, false, fmt.Errorf("open message %s: %w", blobID, err)
	}
	return buf, raw, true, nil
}

// maxOpenInline bounds the blob IDs of one OpenInline call (and so the
// distinct query texts it prepares).
const maxOpenInline = 16

// OpenInline opens several messages kept in the database with one query: the
// result has one entry per ID, nil for a message that is not inline (it lives
// in a blob file: use Open), is unknown, or repeats an earlier ID. Each query
// is a read transaction, whose locking costs SQLite three system calls, and
// database/sql adds its own per-query work: a POP3 session that downloads a
// maildrop in order reads the next few messages at once (pop3server
// cmd_retr.go). At most maxOpenInline IDs; close every reader returned.
func (s *Store) OpenInline(ctx context.Context, blobIDs []string) ([]io.ReadCloser, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if len(blobIDs) > maxOpenInline {
		return nil, fmt.Errorf("open %d messages at once: %w", len(blobIDs), store.ErrInvalidName)
	}
	out := make([]io.ReadCloser, len(blobIDs))
	if len(blobIDs) == 0 {
		return out, nil
	}
	closeAll := func() {
		for _, rc := range out {
			if rc != nil {
				rc.Close()
			}
		}
	}
	args := make([]any, len(blobIDs))
	for i, id := range blobIDs {
		args[i] = id
	}
	q := `SELECT blob, data, size FROM bodies WHERE blob IN (?` + strings.Repeat(`, ?`, len(blobIDs)-1) + `)`
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("open messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var blob string
		var data sql.RawBytes
		var size int64
		if err := rows.Scan(&blob, &data, &size); err != nil {
			closeAll()
			return nil, fmt.Errorf("open messages: %w", err)
		}
		i := slices.Index(blobIDs, blob)
		if i < 0 || out[i] != nil || data == nil || size == 0 {
			continue // not asked for, a blob file, or empty: Open serves those
		}
		buf := s.bodies.get(size)
		raw, err := s.blobs.DecompressInto(*buf, data, size)
		if err != nil {
			s.bodies.put(buf)
			closeAll()
			return nil, fmt.Errorf("open message %s: %w", blob, err)
		}
		out[i] = s.bodies.reader(buf, raw)
	}
	if err := rows.Err(); err != nil {
		closeAll()
		return nil, fmt.Errorf("open messages: %w", err)
	}
	return out, nil
}
