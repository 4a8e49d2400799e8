package pgstore

import (
	"context"
	"time"

	"gannet/internal/store"
)

func (s *Store) Deliver(ctx context.Context, d store.Delivery) ([]store.DeliveryResult, error) {
	return nil, errTODO
}

func (s *Store) Append(ctx context.Context, accountID, mailboxID int64, raw []byte, flags []string, date time.Time) (store.DeliveryResult, error) {
	return store.DeliveryResult{}, errTODO
}

func (s *Store) Copy(ctx context.Context, accountID, srcMailboxID int64, uids store.UIDSet, dstMailboxID int64) (*store.CopyResult, error) {
	return nil, errTODO
}

func (s *Store) Move(ctx context.Context, accountID, srcMailboxID int64, uids store.UIDSet, dstMailboxID int64) (*store.CopyResult, error) {
	return nil, errTODO
}

func (s *Store) StoreFlags(ctx context.Context, accountID, mailboxID int64, uids store.UIDSet, op store.FlagOp, flags []string, unchangedSince uint64) (*store.StoreResult, error) {
	return nil, errTODO
}

func (s *Store) Expunge(ctx context.Context, accountID, mailboxID int64, uids store.UIDSet) ([]uint32, error) {
	return nil, errTODO
}

func (s *Store) ExpungeUIDs(ctx context.Context, accountID, mailboxID int64, uids []uint32) ([]uint32, error) {
	return nil, errTODO
}

func (s *Store) SetPOPHidden(ctx context.Context, accountID, mailboxID int64, uids []uint32) error {
	return errTODO
}

func (s *Store) Search(ctx context.Context, accountID, mailboxID int64, c store.Criteria) ([]uint32, error) {
	return nil, errTODO
}

func (s *Store) GC(ctx context.Context) (removed int, err error) {
	return 0, errTODO
}
