package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// The outbound queue (store.QueueStore) on PostgreSQL: the same rows as
// sqlstore's, the bytes zstd-compressed in queue_messages.data. Every node
// runs the queue; leases (queuelease.go) keep each recipient with one node.

var _ store.QueueStore = (*Store)(nil)

// queueTime converts a stored unix time, where 0 means "never", back.
func queueTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromUnix(v)
}

func queueUnix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// rcptDomain is the lower-cased domain of an address (after the last "@").
func rcptDomain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

// EnqueueOutbound implements store.QueueStore. The bytes are compressed
// before the transaction; the message and all its recipients commit
// together. Duplicate recipients are merged (the primary key).
func (s *Store) EnqueueOutbound(ctx context.Context, m store.Outbound, now time.Time) (int64, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	if len(m.Recipients) == 0 {
		return 0, fmt.Errorf("enqueue: no recipients: %w", store.ErrInvalidName)
	}
	for _, r := range m.Recipients {
		if rcptDomain(r) == "" {
			return 0, fmt.Errorf("enqueue: recipient %q has no domain: %w", r, store.ErrInvalidName)
		}
	}
	data := s.queueZstd.Compress(m.Raw)
	var id int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		err := t.QueryRow(ctx, `INSERT INTO queue_messages(mail_from, account_id, env_id, ret, size, data, created)
			VALUES($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			m.From, m.AccountID, m.EnvID, m.Ret, int64(len(m.Raw)), data, now.Unix()).Scan(&id)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		b := &pgx.Batch{}
		for _, r := range m.Recipients {
			b.Queue(`INSERT INTO queue_recipients(message_id, address, domain, notify, orcpt, next_attempt)
				VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
				id, r, rcptDomain(r), m.Notify[r], m.ORcpt[r], now.Unix())
		}
		if err := t.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("enqueue recipients: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

const queueRcptCols = `message_id, address, domain, notify, orcpt, attempts, next_attempt, last_attempt, last_error, delay_notified, lease_owner, lease_until`

// qualified prefixes each of a comma-separated list of columns with alias.
func qualified(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = alias + "." + c
	}
	return strings.Join(parts, ", ")
}

func scanQueueRcpt(row pgx.Row) (store.QueuedRecipient, error) {
	var r store.QueuedRecipient
	var next, last, until int64
	var attempts int32
	if err := row.Scan(&r.MessageID, &r.Address, &r.Domain, &r.Notify, &r.ORcpt, &attempts,
		&next, &last, &r.LastError, &r.DelayNotified, &r.LeaseOwner, &until); err != nil {
		return r, err
	}
	r.LeaseUntil = queueTime(until)
	r.Attempts = int(attempts)
	r.NextAttempt = queueTime(next)
	r.LastAttempt = queueTime(last)
	return r, nil
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func queueRcpts(ctx context.Context, q querier, query string, args ...any) ([]store.QueuedRecipient, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer rows.Close()
	var out []store.QueuedRecipient
	for rows.Next() {
		r, err := scanQueueRcpt(rows)
		if err != nil {
			return nil, fmt.Errorf("queue: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	return out, nil
}

const queueMsgCols = `id, mail_from, account_id, env_id, ret, size, created`

func scanQueueMsg(row pgx.Row) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	var created int64
	err := row.Scan(&m.ID, &m.From, &m.AccountID, &m.EnvID, &m.Ret, &m.Size, &created)
	m.Created = fromUnix(created)
	return m, err
}

// snapshot runs fn in a read-only REPEATABLE READ transaction: its
// statements see one snapshot (a message and its recipients agree).
func (s *Store) snapshot(ctx context.Context, fn func(t pgx.Tx) error) error {
	t, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = t.Rollback(context.WithoutCancel(ctx)) }()
	return fn(t)
}

// QueueMessage implements store.QueueStore.
func (s *Store) QueueMessage(ctx context.Context, id int64) (*store.QueuedMessage, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var m store.QueuedMessage
	err := s.snapshot(ctx, func(t pgx.Tx) error {
		var err error
		m, err = scanQueueMsg(t.QueryRow(ctx, `SELECT `+queueMsgCols+` FROM queue_messages WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("queued message %d: %w", id, err)
		}
		m.Recipients, err = queueRcpts(ctx, t, `SELECT `+queueRcptCols+` FROM queue_recipients
			WHERE message_id = $1 ORDER BY address COLLATE "C"`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// QueueMessageData implements store.QueueStore.
func (s *Store) QueueMessageData(ctx context.Context, id int64) ([]byte, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var data []byte
	var size int64
	err := s.pool.QueryRow(ctx, `SELECT data, size FROM queue_messages WHERE id = $1`, id).Scan(&data, &size)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queued message %d: %w", id, err)
	}
	raw, err := s.queueZstd.Decompress(data, size)
	if err != nil {
		return nil, fmt.Errorf("queued message %d: %w", id, err)
	}
	return raw, nil
}

// QueueList implements store.QueueStore. Messages and recipients are read in
// one snapshot, so every recipient listed has its message.
func (s *Store) QueueList(ctx context.Context) ([]store.QueuedMessage, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var msgs []store.QueuedMessage
	err := s.snapshot(ctx, func(t pgx.Tx) error {
		rows, err := t.Query(ctx, `SELECT `+queueMsgCols+` FROM queue_messages ORDER BY created, id`)
		if err != nil {
			return fmt.Errorf("queue list: %w", err)
		}
		index := map[int64]int{}
		for rows.Next() {
			m, err := scanQueueMsg(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("queue list: %w", err)
			}
			index[m.ID] = len(msgs)
			msgs = append(msgs, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("queue list: %w", err)
		}
		rcpts, err := queueRcpts(ctx, t, `SELECT `+queueRcptCols+` FROM queue_recipients ORDER BY message_id, address COLLATE "C"`)
		if err != nil {
			return err
		}
		for _, r := range rcpts {
			if i, ok := index[r.MessageID]; ok {
				msgs[i].Recipients = append(msgs[i].Recipients, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return msgs, nil
}

// QueueUpdate implements store.QueueStore. The touched messages' rows are
// locked first, in ascending id order: two nodes finishing the last two
// recipients of one message at once would otherwise each still see the
// other's recipient (READ COMMITTED) and neither remove the message.
func (s *Store) QueueUpdate(ctx context.Context, updates []store.QueueUpdate) error {
	if err := s.alive(); err != nil {
		return err
	}
	if len(updates) == 0 {
		return nil
	}
	var ids []int64
	for _, u := range updates {
		if !slices.Contains(ids, u.MessageID) {
			ids = append(ids, u.MessageID)
		}
	}
	slices.Sort(ids)
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.Exec(ctx, `SELECT 1 FROM queue_messages WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return fmt.Errorf("queue update: lock: %w", err)
		}
		for _, u := range updates {
			var err error
			if u.Done {
				_, err = t.Exec(ctx, `DELETE FROM queue_recipients WHERE message_id = $1 AND address = $2`,
					u.MessageID, u.Address)
			} else {
				_, err = t.Exec(ctx, `UPDATE queue_recipients SET attempts = $1, next_attempt = $2,
					last_attempt = $3, last_error = $4, delay_notified = $5, lease_owner = '', lease_until = 0
					WHERE message_id = $6 AND address = $7`,
					int32(u.Attempts), u.NextAttempt.Unix(), queueUnix(u.LastAttempt), u.LastError, u.DelayNotified,
					u.MessageID, u.Address)
			}
			if err != nil {
				return fmt.Errorf("queue update %d %s: %w", u.MessageID, u.Address, err)
			}
		}
		_, err := t.Exec(ctx, `DELETE FROM queue_messages m WHERE m.id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM queue_recipients r WHERE r.message_id = m.id)`, ids)
		if err != nil {
			return fmt.Errorf("queue update: remove finished messages: %w", err)
		}
		return nil
	})
}

// QueueRetry implements store.QueueStore.
func (s *Store) QueueRetry(ctx context.Context, id int64, now time.Time) (int, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if id == 0 {
			tag, err := t.Exec(ctx, `UPDATE queue_recipients SET next_attempt = $1`, now.Unix())
			if err != nil {
				return fmt.Errorf("queue retry: %w", err)
			}
			n = tag.RowsAffected()
			return nil
		}
		var one int
		err := t.QueryRow(ctx, `SELECT 1 FROM queue_messages WHERE id = $1`, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("queue retry %d: %w", id, err)
		}
		tag, err := t.Exec(ctx, `UPDATE queue_recipients SET next_attempt = $1 WHERE message_id = $2`, now.Unix(), id)
		if err != nil {
			return fmt.Errorf("queue retry %d: %w", id, err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return int(n), err
}

// QueueDrop implements store.QueueStore: the recipients go with the message
// (the foreign key cascades).
func (s *Store) QueueDrop(ctx context.Context, id int64) error {
	if err := s.alive(); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		tag, err := t.Exec(ctx, `DELETE FROM queue_messages WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("queue drop %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
		}
		return nil
	})
}
