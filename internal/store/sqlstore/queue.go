package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"gannet/internal/store"
)

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

// EnqueueOutbound implements store.QueueStore. The bytes are compressed in the
// caller's goroutine; only the inserts run on the writer, in one operation, so
// the message and all its recipients commit together.
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
	data := s.blobs.Compress(m.Raw)
	var id int64
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO queue_messages(mail_from, account_id, env_id, ret, size, data, created)
			VALUES(?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			m.From, m.AccountID, m.EnvID, m.Ret, len(m.Raw), data, now.Unix()).Scan(&id)
		if err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
		for _, r := range m.Recipients {
			_, err := tx.ExecContext(ctx, `INSERT INTO queue_recipients(message_id, address, domain, notify, orcpt, next_attempt)
				VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				id, r, rcptDomain(r), m.Notify[r], m.ORcpt[r], now.Unix())
			if err != nil {
				return fmt.Errorf("enqueue recipient %s: %w", r, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

const queueRcptCols = `message_id, address, domain, notify, orcpt, attempts, next_attempt, last_attempt, last_error, delay_notified`

func scanQueueRcpt(rows *sql.Rows) (store.QueuedRecipient, error) {
	var r store.QueuedRecipient
	var next, last int64
	var notified int
	if err := rows.Scan(&r.MessageID, &r.Address, &r.Domain, &r.Notify, &r.ORcpt, &r.Attempts,
		&next, &last, &r.LastError, &notified); err != nil {
		return r, fmt.Errorf("queue: %w", err)
	}
	r.NextAttempt = queueTime(next)
	r.LastAttempt = queueTime(last)
	r.DelayNotified = notified != 0
	return r, nil
}

func (s *Store) queueRcpts(ctx context.Context, query string, args ...any) ([]store.QueuedRecipient, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	defer rows.Close()
	var out []store.QueuedRecipient
	for rows.Next() {
		r, err := scanQueueRcpt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	s.leases.fill(out)
	return out, nil
}

const queueMsgCols = `id, mail_from, account_id, env_id, ret, size, created`

func scanQueueMsg(sc interface{ Scan(...any) error }) (store.QueuedMessage, error) {
	var m store.QueuedMessage
	var created int64
	err := sc.Scan(&m.ID, &m.From, &m.AccountID, &m.EnvID, &m.Ret, &m.Size, &created)
	m.Created = fromUnix(created)
	return m, err
}

// QueueMessage implements store.QueueStore.
func (s *Store) QueueMessage(ctx context.Context, id int64) (*store.QueuedMessage, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	m, err := scanQueueMsg(s.r.QueryRowContext(ctx, `SELECT `+queueMsgCols+` FROM queue_messages WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queued message %d: %w", id, err)
	}
	m.Recipients, err = s.queueRcpts(ctx, `SELECT `+queueRcptCols+` FROM queue_recipients WHERE message_id = ? ORDER BY address`, id)
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
	err := s.r.QueryRowContext(ctx, `SELECT data, size FROM queue_messages WHERE id = ?`, id).Scan(&data, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("queued message %d: %w", id, err)
	}
	raw, err := s.blobs.Decompress(data, size)
	if err != nil {
		return nil, fmt.Errorf("queued message %d: %w", id, err)
	}
	return raw, nil
}

// QueueList implements store.QueueStore.
func (s *Store) QueueList(ctx context.Context) ([]store.QueuedMessage, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+queueMsgCols+` FROM queue_messages ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("queue list: %w", err)
	}
	var msgs []store.QueuedMessage
	index := map[int64]int{}
	for rows.Next() {
		m, err := scanQueueMsg(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("queue list: %w", err)
		}
		index[m.ID] = len(msgs)
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("queue list: %w", err)
	}
	rcpts, err := s.queueRcpts(ctx, `SELECT `+queueRcptCols+` FROM queue_recipients ORDER BY message_id, address`)
	if err != nil {
		return nil, err
	}
	for _, r := range rcpts {
		// Two read statements are not one snapshot: a recipient of a message
		// enqueued in between has no message here and is left out.
		if i, ok := index[r.MessageID]; ok {
			msgs[i].Recipients = append(msgs[i].Recipients, r)
		}
	}
	return msgs, nil
}

// QueueUpdate implements store.QueueStore.
func (s *Store) QueueUpdate(ctx context.Context, updates []store.QueueUpdate) error {
	if err := s.alive(); err != nil {
		return err
	}
	if len(updates) == 0 {
		return nil
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		touched := map[int64]bool{}
		for _, u := range updates {
			touched[u.MessageID] = true
			var err error
			if u.Done {
				_, err = tx.ExecContext(ctx, `DELETE FROM queue_recipients WHERE message_id = ? AND address = ?`,
					u.MessageID, u.Address)
			} else {
				notified := 0
				if u.DelayNotified {
					notified = 1
				}
				_, err = tx.ExecContext(ctx, `UPDATE queue_recipients SET attempts = ?, next_attempt = ?,
					last_attempt = ?, last_error = ?, delay_notified = ? WHERE message_id = ? AND address = ?`,
					u.Attempts, u.NextAttempt.Unix(), queueUnix(u.LastAttempt), u.LastError, notified,
					u.MessageID, u.Address)
			}
			if err != nil {
				return fmt.Errorf("queue update %d %s: %w", u.MessageID, u.Address, err)
			}
		}
		for id := range touched {
			_, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = ?
				AND NOT EXISTS (SELECT 1 FROM queue_recipients WHERE message_id = ?)`, id, id)
			if err != nil {
				return fmt.Errorf("queue update %d: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// An outcome ends the attempt and so its lease.
	for _, u := range updates {
		s.leases.end(u.MessageID, u.Address)
	}
	return nil
}

// QueueRetry implements store.QueueStore.
func (s *Store) QueueRetry(ctx context.Context, id int64, now time.Time) (int, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	var n int64
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var res sql.Result
		var err error
		if id == 0 {
			res, err = tx.ExecContext(ctx, `UPDATE queue_recipients SET next_attempt = ?`, now.Unix())
		} else {
			var one int
			err = tx.QueryRowContext(ctx, `SELECT 1 FROM queue_messages WHERE id = ?`, id).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("queue retry %d: %w", id, err)
			}
			res, err = tx.ExecContext(ctx, `UPDATE queue_recipients SET next_attempt = ? WHERE message_id = ?`, now.Unix(), id)
		}
		if err != nil {
			return fmt.Errorf("queue retry: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}

// QueueDrop implements store.QueueStore.
func (s *Store) QueueDrop(ctx context.Context, id int64) error {
	if err := s.alive(); err != nil {
		return err
	}
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		// Recipients first: foreign keys cascade, but do not depend on the
		// pragma being on for correctness.
		if _, err := tx.ExecContext(ctx, `DELETE FROM queue_recipients WHERE message_id = ?`, id); err != nil {
			return fmt.Errorf("queue drop %d: %w", id, err)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM queue_messages WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("queue drop %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("queued message %d: %w", id, store.ErrNotFound)
		}
		return nil
	})
	if err == nil {
		s.leases.end(id, "")
	}
	return err
}
