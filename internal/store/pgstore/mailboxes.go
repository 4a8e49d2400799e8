package pgstore

import (
	"context"

	"gannet/internal/store"
)

func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*store.Mailbox, error) {
	return nil, errTODO
}

func (s *Store) RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error {
	return errTODO
}

func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	return errTODO
}

func (s *Store) SubscribeMailbox(ctx context.Context, accountID int64, name string, subscribed bool) error {
	return errTODO
}

func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	return nil, errTODO
}

func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (*store.Mailbox, error) {
	return nil, errTODO
}

func (s *Store) MailboxByID(ctx context.Context, accountID, mailboxID int64) (*store.Mailbox, error) {
	return nil, errTODO
}

func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	return nil, errTODO
}
