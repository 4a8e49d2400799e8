package sqlstore

import (
	"context"

	"gannet/internal/store"
)

// AppendMany implements store.Store: the bodies are prepared (parsed,
// compressed, large ones written to their blob files) outside the writer,
// then every body and message goes in in one write operation, so one commit
// (one fsync) stores them all, with consecutive UIDs and one MODSEQ.
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
	// The blob files of this call stay until it commits (GC takes gcMu
	// exclusively to delete unreferenced files; see gc.go).
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	bodies := make([]*body, len(msgs))
	for i, m := range msgs {
		b, err := s.prepareBody(m.Raw)
		if err != nil {
			return 0, nil, err
		}
		bodies[i] = b
		rows[i].blob, rows[i].size = b.ID, b.Size
	}
	var uv uint32
	var uids []uint32
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		for _, b := range bodies {
			if err := insertBody(ctx, tx, b); err != nil {
				return err
			}
		}
		var err error
		uv, uids, err = insertMessages(ctx, tx, accountID, mailboxID, rows, true)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return uv, uids, nil
}
