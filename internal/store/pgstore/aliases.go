package pgstore

import (
	"context"
	"fmt"
	"strings"

	"gannet/internal/store"
)

// AddAlias implements store.Store. Targets are normalised; "@domain" is a
// catch-all. The alias's domain must be local, and a plain alias must not
// be an account's address (ErrExists); adding only targets it already has
// is ErrExists too.
func (s *Store) AddAlias(ctx context.Context, address string, targets []string) error {
	defer s.directoryChanged()
	addr, domain, err := store.NormAliasAddress(address)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("alias %s: no targets: %w", addr, store.ErrInvalidName)
	}
	var norm []string
	for _, t := range targets {
		l, d, err := store.NormAddress(t)
		if err != nil {
			return err
		}
		norm = append(norm, l+"@"+d)
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := lockDomain(ctx, t, domain); err != nil {
			return err
		}
		if !strings.HasPrefix(addr, "@") {
			if err := lockAddress(ctx, t, addr); err != nil {
				return err
			}
			var n int64
			if err := t.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE address = $1`, addr).Scan(&n); err != nil {
				return fmt.Errorf("add alias %s: %w", addr, err)
			}
			if n > 0 {
				return fmt.Errorf("alias %s is an account: %w", addr, store.ErrExists)
			}
		}
		var added int64
		for _, target := range norm {
			tag, err := t.Exec(ctx, `INSERT INTO aliases(address, target) VALUES($1, $2) ON CONFLICT DO NOTHING`, addr, target)
			if err != nil {
				return fmt.Errorf("add alias %s: %w", addr, err)
			}
			added += tag.RowsAffected()
		}
		if added == 0 {
			return fmt.Errorf("alias %s: %w", addr, store.ErrExists)
		}
		return nil
	})
}

// DeleteAlias implements store.Store: every target of the address.
func (s *Store) DeleteAlias(ctx context.Context, address string) error {
	defer s.directoryChanged()
	addr, _, err := store.NormAliasAddress(address)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		tag, err := t.Exec(ctx, `DELETE FROM aliases WHERE address = $1`, addr)
		if err != nil {
			return fmt.Errorf("delete alias %s: %w", addr, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("alias %s: %w", addr, store.ErrNotFound)
		}
		return nil
	})
}

// Aliases implements store.Store, sorted by address then target (byte order).
func (s *Store) Aliases(ctx context.Context) ([]store.Alias, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT address, target FROM aliases ORDER BY address COLLATE "C", target COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	defer rows.Close()
	var out []store.Alias
	for rows.Next() {
		var addr, target string
		if err := rows.Scan(&addr, &target); err != nil {
			return nil, fmt.Errorf("list aliases: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].Address == addr {
			out[n-1].Targets = append(out[n-1].Targets, target)
		} else {
			out = append(out, store.Alias{Address: addr, Targets: []string{target}})
		}
	}
	return out, rows.Err()
}

// Resolve implements store.Store: the core's store.Resolver over this
// database (directory.go: its caches and how stale they may be).
func (s *Store) Resolve(ctx context.Context, address string) (*store.Resolution, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	return s.dir.Resolve(ctx, address)
}

// Addresses implements store.Store: the account's address and the aliases
// that point directly at it (what it may use as a sender); catch-alls are
// not addresses.
func (s *Store) Addresses(ctx context.Context, accountID int64) ([]string, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	a, err := s.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := []string{a.Address}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT address COLLATE "C" FROM aliases
		WHERE target = $1 AND address NOT LIKE '@%' ORDER BY 1`, a.Address)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", a.Address, err)
	}
	defer rows.Close()
	for rows.Next() {
		var addr string
		if err := rows.Scan(&addr); err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", a.Address, err)
		}
		out = append(out, addr)
	}
	return out, rows.Err()
}
