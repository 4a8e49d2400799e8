package pgstore

import (
	"context"

	"gannet/internal/store"
)

func (s *Store) AddDomain(ctx context.Context, name string) error {
	return errTODO
}

func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	return errTODO
}

func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	return nil, errTODO
}

func (s *Store) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	return false, errTODO
}

func (s *Store) AddAccount(ctx context.Context, address, password string) (*store.Account, error) {
	return nil, errTODO
}

func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	return errTODO
}

func (s *Store) SetPassword(ctx context.Context, address, password string) error {
	return errTODO
}

func (s *Store) SetQuota(ctx context.Context, address string, bytes, messages int64) error {
	return errTODO
}

func (s *Store) SetPOP3Policy(ctx context.Context, address, policy string) error {
	return errTODO
}

func (s *Store) SetDisabled(ctx context.Context, address string, disabled bool) error {
	return errTODO
}

func (s *Store) Account(ctx context.Context, address string) (*store.Account, error) {
	return nil, errTODO
}

func (s *Store) AccountByID(ctx context.Context, id int64) (*store.Account, error) {
	return nil, errTODO
}

func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	return nil, errTODO
}

func (s *Store) LoginAccount(ctx context.Context, user string) (*store.Account, error) {
	return nil, errTODO
}

func (s *Store) Authenticate(ctx context.Context, user, password string) (*store.Account, error) {
	return nil, errTODO
}

func (s *Store) AuthChanges(ctx context.Context, since int64) (next int64, accounts []int64, err error) {
	return 0, nil, errTODO
}

func (s *Store) AddAlias(ctx context.Context, address string, targets []string) error {
	return errTODO
}

func (s *Store) DeleteAlias(ctx context.Context, address string) error {
	return errTODO
}

func (s *Store) Aliases(ctx context.Context) ([]store.Alias, error) {
	return nil, errTODO
}

func (s *Store) Resolve(ctx context.Context, address string) (*store.Resolution, error) {
	return nil, errTODO
}

func (s *Store) Addresses(ctx context.Context, accountID int64) ([]string, error) {
	return nil, errTODO
}

func (s *Store) AddDKIMKey(ctx context.Context, k store.DKIMKey) error {
	return errTODO
}

func (s *Store) DKIMKeys(ctx context.Context, domain string) ([]store.DKIMKey, error) {
	return nil, errTODO
}
