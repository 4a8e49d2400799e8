package sqlstore

import (
	"context"
	"fmt"
	"slices"
)

// AuthChanges implements store.Store. The rows are written by triggers of
// migration 0006 (account deleted, disabled, password changed), in the
// committing transaction, by whichever process made the change; SQLite has one
// writer at a time, so sequence numbers become visible in order and a reader's
// cursor never skips a row that commits later.
//
// One statement, so one snapshot: the rows after since, and the current
// sequence (sqlite_sequence keeps it even when pruning has emptied the table),
// which becomes the next cursor. A cursor ahead of the database (restored
// from a backup) thus comes back to it.
func (s *Store) AuthChanges(ctx context.Context, since int64) (int64, []int64, error) {
	if err := s.alive(); err != nil {
		return 0, nil, err
	}
	if since < 0 {
		since = 1<<63 - 1 // no rows, just the cursor
	}
	rows, err := s.r.QueryContext(ctx, `SELECT 0, seq FROM sqlite_sequence WHERE name = 'auth_changes'
		UNION ALL SELECT 1, account_id FROM auth_changes WHERE seq > ?`, since)
	if err != nil {
		return 0, nil, fmt.Errorf("auth changes: %w", err)
	}
	defer rows.Close()
	var next int64
	var ids []int64
	for rows.Next() {
		var isRow bool
		var v int64
		if err := rows.Scan(&isRow, &v); err != nil {
			return 0, nil, fmt.Errorf("auth changes: %w", err)
		}
		if !isRow {
			next = v
		} else if !slices.Contains(ids, v) {
			ids = append(ids, v)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("auth changes: %w", err)
	}
	return next, ids, nil
}
