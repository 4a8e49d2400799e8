package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// AppendMany implements store.Store: the bodies are parsed, compressed (and
// with an object store uploaded) before the transaction, as Append does;
// then one round trip stores the bodies and a second adds every message
// with consecutive UIDs, one MODSEQ and one quota check, so the whole call
// costs one commit.
func (s *Store) AppendMany(ctx context.Context, accountID, mailboxID int64, msgs []store.AppendMessage) (uint32, []uint32, error) {
	if err := s.alive(); err != nil {
		return 0, nil, err
	}
	if len(msgs) == 0 {
		return 0, nil, nil
	}
	rows := make([]newMessage, len(msgs))
	now := s.now()
	for i, m := range msgs {
		fs, err := store.ParseFlags(m.Flags)
		if err != nil {
			return 0, nil, err
		}
		date := m.Date
		if date.IsZero() {
			date = now
		}
		rows[i] = newMessage{flags: fs, date: unix(date)}
	}
	bodies := make([]*body, len(msgs))
	for i, m := range msgs {
		b, err := s.prepareBody(ctx, m.Raw)
		if err != nil {
			return 0, nil, err
		}
		bodies[i] = b
		rows[i].size = b.Size
	}
	var uv uint32
	var uids []uint32
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		ids := make([]int64, len(bodies))
		q := &pgx.Batch{}
		for i, b := range bodies {
			s.queueBody(q, b, &ids[i])
		}
		if err := t.SendBatch(ctx, q).Close(); err != nil {
			return err
		}
		for i := range rows {
			rows[i].bodyID = ids[i]
		}
		var r inserted
		q = &pgx.Batch{}
		queueInsertMessages(q, accountID, mailboxID, rows, true, "", &r)
		if err := t.SendBatch(ctx, q).Close(); err != nil {
			return err
		}
		var err error
		uv, uids, err = finishInsert(ctx, t, accountID, mailboxID, len(rows), true, &r)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	for _, b := range bodies {
		s.dropUnused(b)
	}
	return uv, uids, nil
}
