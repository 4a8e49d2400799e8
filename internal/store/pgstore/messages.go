package pgstore

import (
	"context"

	"gannet/internal/store"
)

func (s *Store) Search(ctx context.Context, accountID, mailboxID int64, c store.Criteria) ([]uint32, error) {
	return nil, errTODO
}

func (s *Store) GC(ctx context.Context) (removed int, err error) {
	return 0, errTODO
}
