package pgstore

import (
	"context"
	"fmt"
	"time"

	"gannet/internal/store"
)

var _ store.LoginEventStore = (*Store)(nil)

// AddLoginEvents implements store.LoginEventStore: one statement for the
// batch, under loginEventsLock so that sequence order is commit order (a
// reader's cursor never passes an event still being committed, as for
// AuthChanges), and old events pruned on the way.
func (s *Store) AddLoginEvents(ctx context.Context, events []store.LoginEvent) error {
	if len(events) == 0 {
		return nil
	}
	var prefixes []string
	var accounts []string // each event's keys, framed (encodeKeys), in hex
	var success []bool
	var at []int64
	for _, ev := range events {
		prefixes = append(prefixes, ev.Prefix)
		accounts = append(accounts, encodeKeys(ev.Accounts))
		success = append(success, ev.Success)
		at = append(at, ev.At.UnixMilli())
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, loginEventsLock); err != nil {
			return fmt.Errorf("login events: %w", err)
		}
		_, err := t.Exec(ctx, `INSERT INTO login_events(node, prefix, accounts, success, at)
			SELECT $1, p, decode(a, 'hex'), s, t FROM unnest($2::TEXT[], $3::TEXT[], $4::BOOLEAN[], $5::BIGINT[]) AS u(p, a, s, t)`,
			s.instance, prefixes, accounts, success, at)
		if err != nil {
			return fmt.Errorf("login events: %w", err)
		}
		_, err = t.Exec(ctx, `DELETE FROM login_events WHERE at < $1`,
			s.now().Add(-store.LoginEventsRetention).UnixMilli())
		return err
	})
}

// LoginEvents implements store.LoginEventStore.
func (s *Store) LoginEvents(ctx context.Context, since int64) (int64, []store.LoginEvent, error) {
	if err := s.alive(); err != nil {
		return 0, nil, err
	}
	var next int64
	var events []store.LoginEvent
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		// Wait for writers in flight (their lock is held to commit), so
		// that no event commits behind the cursor returned.
		if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, loginEventsLock); err != nil {
			return err
		}
		if err := t.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM login_events`).Scan(&next); err != nil {
			return err
		}
		if since < 0 {
			return nil
		}
		rows, err := t.Query(ctx, `SELECT prefix, accounts, success, at FROM login_events
			WHERE seq > $1 AND seq <= $2 AND node <> $3 ORDER BY seq`, since, next, s.instance)
		if err != nil {
			return err
		}
		defer rows.Close()
		events = events[:0]
		for rows.Next() {
			var ev store.LoginEvent
			var keys []byte
			var ms int64
			if err := rows.Scan(&ev.Prefix, &keys, &ev.Success, &ms); err != nil {
				return err
			}
			ev.Accounts = decodeKeys(keys)
			ev.At = time.UnixMilli(ms).UTC()
			events = append(events, ev)
		}
		return rows.Err()
	})
	if err != nil {
		return 0, nil, fmt.Errorf("login events: %w", err)
	}
	return next, events, nil
}

// encodeKeys frames account keys (binary digests of a fixed size, or
// empty) as one hex string: each key's length byte, then the key.
func encodeKeys(keys []string) string {
	var b []byte
	for _, k := range keys {
		b = append(b, byte(len(k)))
		b = append(b, k...)
	}
	return fmt.Sprintf("%x", b)
}

func decodeKeys(b []byte) []string {
	var keys []string
	for len(b) > 0 {
		n := int(b[0])
		if 1+n > len(b) {
			break
		}
		keys = append(keys, string(b[1:1+n]))
		b = b[1+n:]
	}
	return keys
}
