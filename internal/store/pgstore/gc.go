package pgstore

import (
	"context"
	"fmt"
)

// Garbage collection of message bodies.
//
// A body (a bodies row and its body_chunks, deleted with it by ON DELETE
// CASCADE) is garbage when no message references it: the last copy was
// expunged, or its mailbox or account deleted. Bodies are shared between
// messages (deduplicated by content hash), so a delivery of content that
// already exists reuses the row, and GC must never delete a body that a
// delivery committing concurrently is about to reference. Several nodes may
// deliver and collect at once, so the protocol is kept by PostgreSQL's row
// locks, not by any lock in this process:
//
//  1. A delivery stores its body with
//     INSERT INTO bodies ... ON CONFLICT (blob) DO UPDATE SET created = EXCLUDED.created RETURNING id
//     (and writes the chunks only when the row is new). DO UPDATE, unlike DO
//     NOTHING, locks the row it reuses until the delivery commits, so from the
//     moment the delivery learns the id until its messages rows are visible,
//     the row is locked; inserting a message then takes a KEY SHARE lock on it
//     too (the foreign key). It also refreshes created, so the body is young
//     again and outside the next collections' grace period.
//  2. GC picks candidates, unreferenced and created no later than the cutoff,
//     with SELECT ... FOR UPDATE SKIP LOCKED: a row that a delivery (or a
//     COPY's foreign-key check) holds is skipped, it is about to be
//     referenced. The other candidates are now locked by GC: a delivery that
//     reaches one waits at its INSERT ... ON CONFLICT until GC commits.
//  3. GC deletes the locked candidates with a DELETE that checks again, in
//     its own statement, that no message references them and that they are
//     still old. Under READ COMMITTED that statement takes a new snapshot,
//     taken after the locks were granted: it sees the messages of every
//     delivery that reused a candidate before GC locked it (such a delivery
//     had committed, or GC would have skipped the row). Re-checking in the
//     first statement alone would not do: when PostgreSQL re-evaluates a
//     WHERE clause on a row updated concurrently (EvalPlanQual), a subquery
//     on another table still sees the statement's old snapshot.
//  4. A delivery that waited at step 1 for GC's commit finds the conflicting
//     row deleted, and PostgreSQL's ON CONFLICT then inserts the row afresh:
//     it writes a new body (new id) with its chunks.
//
// So correctness does not rest on clocks: the grace period (Options.GCGrace,
// SetGCGrace) only keeps recently stored bodies around, and with grace 0 GC
// collects every unreferenced body, one created in the current second too
// (created <= cutoff: times are whole seconds).
//
// With an object store, a body's chunks are objects named by its row
// (objects.go): GC deletes them after the transaction that deleted the row
// commits, and sweeps the objects no row names now and then.
//
// GC works in batches of gcBatch bodies, one short transaction each, so that
// it never holds many locks or a long transaction, and stops between batches
// when ctx is cancelled.

// gcBatch is how many bodies one GC transaction deletes at most.
const gcBatch = 200

// GC implements store.Store: it deletes the bodies no message references that
// are older than the grace period, and reports how many.
func (s *Store) GC(ctx context.Context) (removed int, err error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	cutoff := unix(s.now().Add(-s.gcGrace))
	var after int64 // keyset: every batch looks past the last, so GC ends
	for {
		if err := ctx.Err(); err != nil {
			return removed, fmt.Errorf("gc: %w", err)
		}
		var n, seen int
		var last int64
		var gone []goneBody
		err := s.write(ctx, func(ctx context.Context, t *tx) error {
			var err error
			n, seen, last, gone, err = gcOnce(ctx, t, cutoff, after)
			return err
		})
		if err != nil {
			return removed, fmt.Errorf("gc: %w", err)
		}
		s.deleteObjects(ctx, gone)
		removed += n
		after = last
		if seen < gcBatch {
			break
		}
	}
	if _, err := s.maybeSweep(ctx); err != nil {
		return removed, fmt.Errorf("gc: object store: %w", err)
	}
	return removed, nil
}

// gcOnce locks and deletes one batch of candidates with ids above after. It
// returns how many it deleted, how many candidates it saw (fewer than gcBatch:
// the last batch), the highest candidate id, and the deleted bodies whose
// chunks are objects.
func gcOnce(ctx context.Context, t *tx, cutoff, after int64) (deleted, seen int, last int64, gone []goneBody, err error) {
	rows, err := t.Query(ctx, `SELECT id FROM bodies b
		WHERE b.id > $1 AND b.created <= $2
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.body_id = b.id)
		ORDER BY b.id LIMIT $3
		FOR UPDATE SKIP LOCKED`, after, cutoff, gcBatch)
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("candidates: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, 0, 0, nil, fmt.Errorf("candidates: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("candidates: %w", err)
	}
	if len(ids) == 0 {
		return 0, 0, 0, nil, nil
	}
	// A new statement, hence a new snapshot (READ COMMITTED): see step 3
	// above.
	rows, err = t.Query(ctx, `DELETE FROM bodies b
		WHERE b.id = ANY($1) AND b.created <= $2
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.body_id = b.id)
		RETURNING b.objects, b.size`, ids, cutoff)
	if err != nil {
		return 0, 0, 0, nil, fmt.Errorf("delete: %w", err)
	}
	for rows.Next() {
		var objects *string
		var size int64
		if err := rows.Scan(&objects, &size); err != nil {
			rows.Close()
			return 0, 0, 0, nil, fmt.Errorf("delete: %w", err)
		}
		deleted++
		if objects != nil {
			gone = append(gone, goneBody{objects: *objects, size: size})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, 0, nil, fmt.Errorf("delete: %w", err)
	}
	return deleted, len(ids), ids[len(ids)-1], gone, nil
}
