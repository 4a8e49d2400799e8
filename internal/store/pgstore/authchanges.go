package pgstore

import (
	"context"
	"fmt"
	"slices"
)

// AuthChanges implements store.Store. The rows are written by the schema's
// trigger (account deleted, disabled, password changed), in the committing
// transaction, by whichever node made the change.
//
// A sequence hands out numbers before commit, so a reader that simply took
// the rows after its cursor could see seq 5 committed while seq 4 is still
// in flight, move its cursor to 5 and miss 4 for good. The trigger holds an
// exclusive advisory lock from its nextval to commit; this reader takes the
// same lock shared first, so no writer is between nextval and commit while
// it reads, and its statements (each with a fresh snapshot at READ
// COMMITTED) see every number handed out so far committed or rolled back.
// The next cursor is the sequence's last value, which survives pruning of
// the table; a cursor ahead of the database (restored from a backup) comes
// back to it, as with sqlstore.
func (s *Store) AuthChanges(ctx context.Context, since int64) (int64, []int64, error) {
	if err := s.alive(); err != nil {
		return 0, nil, err
	}
	if since < 0 {
		since = 1<<63 - 1 // no rows, just the cursor
	}
	t, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("auth changes: %w", err)
	}
	defer func() { _ = t.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, authChangeLock); err != nil {
		return 0, nil, fmt.Errorf("auth changes: lock: %w", err)
	}
	// auth_changes_seq_seq is the identity sequence of auth_changes.seq
	// (PostgreSQL names it table_column_seq); is_called is false until it
	// has handed out its first value.
	var next int64
	if err := t.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM auth_changes_seq_seq`).Scan(&next); err != nil {
		return 0, nil, fmt.Errorf("auth changes: cursor: %w", err)
	}
	rows, err := t.Query(ctx, `SELECT account_id FROM auth_changes WHERE seq > $1 AND seq <= $2 ORDER BY seq`, since, next)
	if err != nil {
		return 0, nil, fmt.Errorf("auth changes: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, nil, fmt.Errorf("auth changes: %w", err)
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("auth changes: %w", err)
	}
	return next, ids, nil
}
