package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"gannet/internal/store"
)

// ClaimRecent implements store.RecentStore. A read first: a SELECT of a
// mailbox with nothing new to claim (the usual case) costs no write and no
// fsync; a claim is one statement in the single writer, so two sessions
// cannot both get a message.
func (s *Store) ClaimRecent(ctx context.Context, accountID, mailboxID int64, below uint32) (uint32, error) {
	mark, _, err := s.recentMark(ctx, accountID, mailboxID, false)
	if err != nil || mark >= below {
		return mark, err
	}
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var m int64
		err := tx.QueryRowContext(ctx, `SELECT recent_uid FROM mailboxes WHERE id = ? AND account_id = ?`,
			mailboxID, accountID).Scan(&m)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("claim recent: %w", err)
		}
		mark = uint32(m)
		if mark >= below {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET recent_uid = ? WHERE id = ?`, below, mailboxID); err != nil {
			return fmt.Errorf("claim recent: %w", err)
		}
		return nil
	})
	return mark, err
}

// RecentMark implements store.RecentStore.
func (s *Store) RecentMark(ctx context.Context, accountID, mailboxID int64) (uint32, uint32, error) {
	return s.recentMark(ctx, accountID, mailboxID, true)
}

func (s *Store) recentMark(ctx context.Context, accountID, mailboxID int64, count bool) (uint32, uint32, error) {
	if err := s.alive(); err != nil {
		return 0, 0, err
	}
	q := `SELECT m.recent_uid, 0 FROM mailboxes m WHERE m.id = ? AND m.account_id = ?`
	if count {
		q = `SELECT m.recent_uid, (SELECT count(*) FROM messages WHERE mailbox_id = m.id AND uid >= m.recent_uid)
			FROM mailboxes m WHERE m.id = ? AND m.account_id = ?`
	}
	var mark, n int64
	err := s.r.QueryRowContext(ctx, q, mailboxID, accountID).Scan(&mark, &n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("recent: %w", err)
	}
	return uint32(mark), uint32(n), nil
}
