package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// GC implements store.Store and reports how many messages' bytes it removed
// (inline bodies and blob files). It first drops bodies no message references
// (inside the writer, so no delivery of the same content interleaves), then lists
// blob files without a bodies row that are older than the grace period, and
// deletes them under gcMu held exclusively: no delivery is then between writing
// its blob and committing, so a blob still unreferenced at that moment is garbage
// (a delivery that starts later writes its blob again).
func (s *Store) GC(ctx context.Context) (int, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	removed := 0
	err := s.w.doAlone(ctx, func(ctx context.Context, tx *wtx) error {
		// Inline bodies need no grace period: a delivery inserts its body and its
		// messages in one write operation, so no unreferenced inline body is ever
		// about to be referenced.
		res, err := tx.ExecContext(ctx, `DELETE FROM bodies WHERE data IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob = bodies.blob)`)
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		n, _ := res.RowsAffected()
		removed = int(n)
		_, err = tx.ExecContext(ctx, `DELETE FROM bodies WHERE data IS NULL
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob = bodies.blob)`)
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	cutoff := s.now().Add(-s.gcGrace)
	var candidates []string
	err = s.blobs.Walk(func(id string, mod time.Time) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if mod.After(cutoff) {
			return nil
		}
		ref, err := s.blobReferenced(ctx, id)
		if err != nil || ref {
			return err
		}
		candidates = append(candidates, id)
		return nil
	})
	if err != nil {
		return 0, err
	}
	const batch = 500
	for len(candidates) > 0 {
		n := min(batch, len(candidates))
		if err := s.gcDelete(ctx, candidates[:n], cutoff, &removed); err != nil {
			return removed, err
		}
		candidates = candidates[n:]
	}
	return removed, nil
}

func (s *Store) gcDelete(ctx context.Context, ids []string, cutoff time.Time, removed *int) error {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	for _, id := range ids {
		ref, err := s.blobReferenced(ctx, id)
		if err != nil {
			return err
		}
		if ref {
			continue
		}
		// Prune deletes only if the blob is still older than the cutoff: a
		// deduplicating Put refreshes the time of a blob it is about to reuse.
		deleted, err := s.blobs.Prune(id, cutoff)
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		if deleted {
			*removed++
		}
	}
	return nil
}

func (s *Store) blobReferenced(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM bodies WHERE blob = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gc: %w", err)
	}
	return true, nil
}
