package pgstore

import (
	"context"
	"time"

	"gannet/internal/store"
)

func (s *Store) EnqueueOutbound(ctx context.Context, m store.Outbound, now time.Time) (int64, error) {
	return 0, errTODO
}

func (s *Store) QueueDue(ctx context.Context, now time.Time, limit int) ([]store.QueuedRecipient, error) {
	return nil, errTODO
}

func (s *Store) QueueNextAttempt(ctx context.Context) (next time.Time, ok bool, err error) {
	return time.Time{}, false, errTODO
}

func (s *Store) QueueMessage(ctx context.Context, id int64) (*store.QueuedMessage, error) {
	return nil, errTODO
}

func (s *Store) QueueMessageData(ctx context.Context, id int64) ([]byte, error) {
	return nil, errTODO
}

func (s *Store) QueueList(ctx context.Context) ([]store.QueuedMessage, error) {
	return nil, errTODO
}

func (s *Store) QueueUpdate(ctx context.Context, updates []store.QueueUpdate) error {
	return errTODO
}

func (s *Store) QueueRetry(ctx context.Context, id int64, now time.Time) (int, error) {
	return 0, errTODO
}

func (s *Store) QueueDrop(ctx context.Context, id int64) error {
	return errTODO
}
