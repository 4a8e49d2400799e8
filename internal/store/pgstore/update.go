package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// lockOwned takes the account's lock, as lockAccount, and checks in the same
// statement that the account owns the mailboxes, so that one account can
// never change, or detect, another's mailbox by guessing its id.
// ErrNotFound when the account or a mailbox is not found.
func lockOwned(ctx context.Context, t *tx, accountID int64, mailboxIDs ...int64) error {
	var n int
	err := t.QueryRow(ctx, `SELECT (SELECT count(*) FROM mailboxes WHERE account_id = $1 AND id = ANY($2))
		FROM accounts WHERE id = $1 FOR UPDATE`, accountID, mailboxIDs).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("account %d: lock: %w", accountID, err)
	}
	if n != len(slices.Compact(slices.Sorted(slices.Values(mailboxIDs)))) {
		return fmt.Errorf("mailbox %v: %w", mailboxIDs, store.ErrNotFound)
	}
	return nil
}

// copyTx copies messages into dst with new UIDs, keeping flags and internal
// dates (RFC 9051 6.4.7). The bodies are shared, not copied. The caller
// holds the account's lock and has checked that it owns both mailboxes.
func copyTx(ctx context.Context, t *tx, accountID, src int64, set store.UIDSet, dst int64, quota bool) (*store.CopyResult, []msgRow, error) {
	rows, err := selectRows(ctx, t, accountID, src, set, "")
	if err != nil {
		return nil, nil, err
	}
	res := &store.CopyResult{}
	if len(rows) == 0 {
		return res, nil, nil
	}
	msgs := make([]newMessage, len(rows))
	for i, r := range rows {
		msgs[i] = newMessage{bodyID: r.bodyID, size: r.size, flags: r.flags, date: r.date}
		res.SrcUIDs = append(res.SrcUIDs, r.uid)
	}
	uv, uids, err := insertMessages(ctx, t, accountID, dst, msgs, quota)
	if err != nil {
		return nil, nil, err
	}
	res.UIDValidity = uv
	res.DstUIDs = uids
	return res, rows, nil
}

// Copy implements store.Store. Over quota, nothing is copied (RFC 9208
// 4.2.1).
func (s *Store) Copy(ctx context.Context, accountID, src int64, set store.UIDSet, dst int64) (*store.CopyResult, error) {
	var res *store.CopyResult
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := lockOwned(ctx, t, accountID, src, dst); err != nil {
			return err
		}
		var err error
		res, _, err = copyTx(ctx, t, accountID, src, set, dst, true)
		return err
	})
	return res, err
}

// moveTx copies and then expunges; the caller holds the account's lock and
// has checked that it owns both mailboxes.
func moveTx(ctx context.Context, t *tx, accountID, src int64, set store.UIDSet, dst int64) (*store.CopyResult, error) {
	res, rows, err := copyTx(ctx, t, accountID, src, set, dst, false)
	if err != nil {
		return nil, err
	}
	if err := removeRows(ctx, t, accountID, src, rows); err != nil {
		return nil, err
	}
	return res, nil
}

// Move implements store.Store (RFC 6851): copy and expunge in one
// transaction. It adds nothing to the account's usage, so it is allowed at
// the quota limit.
func (s *Store) Move(ctx context.Context, accountID, src int64, set store.UIDSet, dst int64) (*store.CopyResult, error) {
	var res *store.CopyResult
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := lockOwned(ctx, t, accountID, src, dst); err != nil {
			return err
		}
		var err error
		res, err = moveTx(ctx, t, accountID, src, set, dst)
		return err
	})
	return res, err
}

// removeRows deletes messages and leaves tombstones under one new MODSEQ,
// keeping the mailbox counters and the account's usage in step: one
// statement. The caller holds the account's lock, so rows are current.
func removeRows(ctx context.Context, t *tx, accountID, mailboxID int64, rows []msgRow) error {
	if len(rows) == 0 {
		return nil
	}
	var size, unseen, deleted int64
	uids := make([]uint32, len(rows))
	list := make([]int64, len(rows))
	for i, r := range rows {
		uids[i] = r.uid
		list[i] = int64(r.uid)
		size += r.size
		unseen += store.Unseen(r.flags.Bits)
		deleted += store.Deleted(r.flags.Bits)
	}
	var modseq int64
	err := t.QueryRow(ctx, `WITH acc AS (
			UPDATE accounts SET modseq = modseq + 1, used_bytes = used_bytes - $3, used_messages = used_messages - $4
			WHERE id = $2 RETURNING modseq),
		d AS (DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($7::BIGINT[])),
		ts AS (INSERT INTO tombstones(mailbox_id, uid, modseq)
			SELECT $1, u, acc.modseq FROM acc, unnest($7::BIGINT[]) AS u
			ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq),
		mb AS (UPDATE mailboxes SET messages = messages - $4, unseen = unseen - $5, deleted = deleted - $6,
			size = size - $3, highest_modseq = acc.modseq FROM acc WHERE id = $1)
		SELECT modseq FROM acc`,
		mailboxID, accountID, size, int64(len(rows)), unseen, deleted, list).Scan(&modseq)
	if err != nil {
		return fmt.Errorf("expunge: %w", mapErr(err))
	}
	t.publish(store.Change{AccountID: accountID, MailboxID: mailboxID, ModSeq: uint64(modseq), Kind: store.ChangeExpunge, UIDs: uids})
	return nil
}

// expunge removes the rows of set (with only \Deleted ones when
// deletedOnly) and returns their UIDs.
func (s *Store) expunge(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, deletedOnly bool) ([]uint32, error) {
	var uids []uint32
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := lockOwned(ctx, t, accountID, mailboxID); err != nil {
			return err
		}
		extra := ""
		if deletedOnly {
			extra = fmt.Sprintf(" AND m.flags & %d != 0", store.FlagBitDeleted)
		}
		rows, err := selectRows(ctx, t, accountID, mailboxID, set, extra)
		if err != nil {
			return err
		}
		uids = uids[:0]
		for _, r := range rows {
			uids = append(uids, r.uid)
		}
		return removeRows(ctx, t, accountID, mailboxID, rows)
	})
	return uids, err
}

// Expunge implements store.Store (EXPUNGE, UID EXPUNGE of RFC 4315).
func (s *Store) Expunge(ctx context.Context, accountID, mailboxID int64, set store.UIDSet) ([]uint32, error) {
	return s.expunge(ctx, accountID, mailboxID, set, true)
}

// ExpungeUIDs implements store.Store.
func (s *Store) ExpungeUIDs(ctx context.Context, accountID, mailboxID int64, list []uint32) ([]uint32, error) {
	if len(list) == 0 {
		return nil, nil
	}
	set := make(store.UIDSet, len(list))
	for i, u := range list {
		set[i] = store.UIDRange{Lo: u, Hi: u}
	}
	return s.expunge(ctx, accountID, mailboxID, set, false)
}

// SetPOPHidden implements store.Store. It changes no MODSEQ and notifies
// nobody: only POP3 reads the mark (as sqlstore).
func (s *Store) SetPOPHidden(ctx context.Context, accountID, mailboxID int64, list []uint32) error {
	if len(list) == 0 {
		return nil
	}
	uids := make([]int64, len(list))
	for i, u := range list {
		uids[i] = int64(u)
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := ownMailbox(ctx, t, accountID, mailboxID); err != nil {
			return err
		}
		if _, err := t.Exec(ctx, `UPDATE messages SET pop_hidden = TRUE WHERE mailbox_id = $1 AND uid = ANY($2::BIGINT[])`,
			mailboxID, uids); err != nil {
			return fmt.Errorf("hide from pop3: %w", err)
		}
		return nil
	})
}

// StoreFlags implements store.Store (STORE, RFC 9051 6.4.6; UNCHANGEDSINCE,
// RFC 7162 3.1.3). All messages changed by one call share one new MODSEQ;
// unchanged ones keep theirs. The new flags are computed here and written
// with one statement.
func (s *Store) StoreFlags(ctx context.Context, accountID, mailboxID int64, set store.UIDSet, op store.FlagOp, flags []string, unchangedSince uint64) (*store.StoreResult, error) {
	arg, err := store.ParseFlags(flags)
	if err != nil {
		return nil, err
	}
	res := &store.StoreResult{}
	err = s.write(ctx, func(ctx context.Context, t *tx) error {
		*res = store.StoreResult{}
		if err := lockOwned(ctx, t, accountID, mailboxID); err != nil {
			return err
		}
		rows, err := selectRows(ctx, t, accountID, mailboxID, set, "")
		if err != nil {
			return err
		}
		var dUnseen, dDeleted int64
		var uidCol, bitsCol []int64
		var kwCol []string
		for _, r := range rows {
			if unchangedSince > 0 && r.modseq > unchangedSince {
				res.Modified = append(res.Modified, r.uid)
				continue
			}
			nf := r.flags.Apply(op, arg)
			if nf.Equal(r.flags) {
				continue
			}
			uidCol = append(uidCol, int64(r.uid))
			bitsCol = append(bitsCol, nf.Bits)
			kwCol = append(kwCol, nf.KeywordString())
			dUnseen += store.Unseen(nf.Bits) - store.Unseen(r.flags.Bits)
			dDeleted += store.Deleted(nf.Bits) - store.Deleted(r.flags.Bits)
			res.Updated = append(res.Updated, store.FlagUpdate{UID: r.uid, Flags: nf.Names()})
		}
		if len(res.Updated) == 0 {
			return nil
		}
		var modseq int64
		err = t.QueryRow(ctx, `WITH acc AS (UPDATE accounts SET modseq = modseq + 1 WHERE id = $2 RETURNING modseq),
			upd AS (UPDATE messages m SET flags = u.flags, keywords = u.kw, modseq = acc.modseq
				FROM acc, unnest($3::BIGINT[], $4::BIGINT[], $5::TEXT[]) AS u(uid, flags, kw)
				WHERE m.mailbox_id = $1 AND m.uid = u.uid),
			mb AS (UPDATE mailboxes SET unseen = unseen + $6, deleted = deleted + $7, highest_modseq = acc.modseq
				FROM acc WHERE id = $1)
			SELECT modseq FROM acc`, mailboxID, accountID, uidCol, bitsCol, kwCol, dUnseen, dDeleted).Scan(&modseq)
		if err != nil {
			return fmt.Errorf("store flags: %w", mapErr(err))
		}
		uids := make([]uint32, len(res.Updated))
		for i := range res.Updated {
			res.Updated[i].ModSeq = uint64(modseq)
			uids[i] = res.Updated[i].UID
		}
		t.publish(store.Change{AccountID: accountID, MailboxID: mailboxID, ModSeq: uint64(modseq), Kind: store.ChangeFlags, UIDs: uids})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
