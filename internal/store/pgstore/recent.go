package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// ClaimRecent implements store.RecentStore: one statement that moves the
// mark and returns where it was (the row lock makes two nodes' claims take
// turns; the mailbox row only, no account lock: a claim changes no MODSEQ).
// A read first, so that a SELECT with nothing to claim writes nothing.
func (s *Store) ClaimRecent(ctx context.Context, accountID, mailboxID int64, below uint32) (uint32, error) {
	mark, _, err := s.recentMark(ctx, accountID, mailboxID, false)
	if err != nil || mark >= below {
		return mark, err
	}
	var old int64
	err = s.pool.QueryRow(ctx, `WITH cur AS (
			SELECT id, recent_uid FROM mailboxes WHERE id = $1 AND account_id = $2 FOR UPDATE)
		UPDATE mailboxes m SET recent_uid = GREATEST(cur.recent_uid, $3)
		FROM cur WHERE m.id = cur.id
		RETURNING cur.recent_uid`, mailboxID, accountID, int64(below)).Scan(&old)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("claim recent: %w", err)
	}
	return uint32(old), nil
}

// RecentMark implements store.RecentStore.
func (s *Store) RecentMark(ctx context.Context, accountID, mailboxID int64) (uint32, uint32, error) {
	return s.recentMark(ctx, accountID, mailboxID, true)
}

func (s *Store) recentMark(ctx context.Context, accountID, mailboxID int64, count bool) (uint32, uint32, error) {
	if err := s.alive(); err != nil {
		return 0, 0, err
	}
	q := `SELECT m.recent_uid, 0 FROM mailboxes m WHERE m.id = $1 AND m.account_id = $2`
	if count {
		q = `SELECT m.recent_uid, (SELECT count(*) FROM messages WHERE mailbox_id = m.id AND uid >= m.recent_uid)
			FROM mailboxes m WHERE m.id = $1 AND m.account_id = $2`
	}
	var mark, n int64
	err := s.pool.QueryRow(ctx, q, mailboxID, accountID).Scan(&mark, &n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("recent: %w", err)
	}
	return uint32(mark), uint32(n), nil
}
