package pgstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"gannet/internal/store"
)

// Queue leases (store.QueueStore, issue 14 section 3: exactly once across
// nodes). Every node runs the outbound queue on the same rows; a recipient
// is delivered by the instance (s.instance: one process's Store) that holds
// its lease, written into queue_recipients.lease_owner and lease_until (unix
// seconds of the caller's clock: node clocks must agree to well within a
// lease, which NTP gives by orders of magnitude).
//
// Two rules, both applied by QueueDue in one statement:
//   - a row leased by another live instance is never taken: the candidate
//     rows are locked with FOR UPDATE SKIP LOCKED inside the UPDATE, so two
//     nodes leasing at once never block on, or both take, one row;
//   - no row of a domain in which another instance holds a live lease: one
//     domain is worked by one node at a time, so a node's one-job-per-route
//     limit holds across the cluster for MX routes. This is a predicate over
//     other rows, which row locks cannot enforce (two nodes could each lock
//     different rows of one fresh domain); leasing is therefore serialised
//     across the cluster by a transaction advisory lock. It is held for one
//     short statement per dispatch or renewal of a node, which is cheap;
//     SKIP LOCKED still keeps leasing from waiting on QueueUpdate's row locks.
//
// A live lease is one whose lease_until is after now; a lapsed lease is taken
// over by the next QueueDue of any node. QueueUpdate clears the lease of what
// it updates; QueueRelease (at shutdown) clears all of this instance's.

// QueueDue implements store.QueueStore. A negative limit is no limit (as
// SQLite's LIMIT -1).
func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.QueuedRecipient, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var lim *int64
	if limit >= 0 {
		l := int64(limit)
		lim = &l
	}
	var out []store.QueuedRecipient
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, queueLeaseLock); err != nil {
			return fmt.Errorf("queue lease lock: %w", err)
		}
		// Own leases first (renewed within limit, see the contract), then
		// earliest first. The outer UPDATE's join gives no order: sorted below.
		var err error
		out, err = queueRcpts(ctx, t, `UPDATE queue_recipients q SET lease_owner = $1, lease_until = $2
			FROM (SELECT r.message_id, r.address FROM queue_recipients r
				WHERE r.next_attempt <= $3
				AND (r.lease_owner = '' OR r.lease_owner = $1 OR r.lease_until <= $3)
				AND NOT EXISTS (SELECT 1 FROM queue_recipients o WHERE o.domain = r.domain
					AND o.lease_owner <> '' AND o.lease_owner <> $1 AND o.lease_until > $3)
				ORDER BY r.lease_owner = $1 DESC, r.next_attempt, r.message_id, r.address COLLATE "C"
				LIMIT $4
				FOR UPDATE OF r SKIP LOCKED) c
			WHERE q.message_id = c.message_id AND q.address = c.address
			RETURNING `+qualified("q", queueRcptCols),
			s.instance, now.Add(lease).Unix(), now.Unix(), lim)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.QueuedRecipient) int {
		return cmp.Or(a.NextAttempt.Compare(b.NextAttempt), cmp.Compare(a.MessageID, b.MessageID), cmp.Compare(a.Address, b.Address))
	})
	return out, nil
}

// QueueRenew implements store.QueueStore.
func (s *Store) QueueRenew(ctx context.Context, now time.Time, lease time.Duration) (int, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		tag, err := t.Exec(ctx, `UPDATE queue_recipients SET lease_until = $2 WHERE lease_owner = $1`,
			s.instance, now.Add(lease).Unix())
		if err != nil {
			return fmt.Errorf("queue renew: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}

// QueueRelease implements store.QueueStore.
func (s *Store) QueueRelease(ctx context.Context) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.Exec(ctx, `UPDATE queue_recipients SET lease_owner = '', lease_until = 0 WHERE lease_owner = $1`, s.instance); err != nil {
			return fmt.Errorf("queue release: %w", err)
		}
		return nil
	})
}

// QueueNextAttempt implements store.QueueStore. A recipient in a domain
// where another instance holds leases counts from the latest of them at the
// earliest: that is when the domain may be taken over if its holder died. A
// lapsed lease is in the past and so changes nothing.
func (s *Store) QueueNextAttempt(ctx context.Context) (time.Time, bool, error) {
	if err := s.alive(); err != nil {
		return time.Time{}, false, err
	}
	var next *int64
	// Two parts, so that neither reads the whole queue: the earliest
	// recipient of a domain nobody else holds (the next_attempt index in
	// order, up to the first such row), and for each held domain (a few, from
	// the partial lease index) the later of its earliest recipient and the
	// end of its leases (the domain index).
	err := s.pool.QueryRow(ctx, `WITH held AS MATERIALIZED (
			SELECT domain, max(lease_until) AS until FROM queue_recipients
			WHERE lease_owner <> '' AND lease_owner <> $1 GROUP BY domain)
		SELECT least(
			(SELECT r.next_attempt FROM queue_recipients r
				WHERE NOT EXISTS (SELECT 1 FROM held h WHERE h.domain = r.domain)
				ORDER BY r.next_attempt LIMIT 1),
			(SELECT min(greatest(h.until, (SELECT min(r.next_attempt) FROM queue_recipients r WHERE r.domain = h.domain)))
				FROM held h))`, s.instance).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("queue: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return fromUnix(*next), true, nil
}
