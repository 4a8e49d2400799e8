package sqlstore

import (
	"context"
	"fmt"

	"gannet/internal/store"
)

var _ store.KeyStore = (*Store)(nil)

// AddDKIMKey implements store.KeyStore.
func (s *Store) AddDKIMKey(ctx context.Context, k store.DKIMKey) error {
	d, err := store.NormDomain(k.Domain)
	if err != nil {
		return err
	}
	if k.Selector == "" || len(k.PEM) == 0 {
		return fmt.Errorf("dkim key for %s: %w", d, store.ErrInvalidName)
	}
	created := k.Created
	if created.IsZero() {
		created = s.now()
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		ok, err := s.domainExists(ctx, tx, d)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("domain %s: %w", d, store.ErrNotFound)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO dkim_keys(domain, selector, algorithm, pem, created)
			VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, d, k.Selector, k.Algorithm, k.PEM, unix(created))
		if err != nil {
			return fmt.Errorf("add dkim key for %s: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("dkim key %s for %s: %w", k.Selector, d, store.ErrExists)
		}
		return nil
	})
}

// DKIMKeys implements store.KeyStore.
func (s *Store) DKIMKeys(ctx context.Context, domain string) ([]store.DKIMKey, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	d, err := store.NormDomain(domain)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT domain, selector, algorithm, pem, created FROM dkim_keys
		WHERE domain = ? ORDER BY created, selector`, d)
	if err != nil {
		return nil, fmt.Errorf("dkim keys of %s: %w", d, err)
	}
	defer rows.Close()
	var out []store.DKIMKey
	for rows.Next() {
		var k store.DKIMKey
		var created int64
		if err := rows.Scan(&k.Domain, &k.Selector, &k.Algorithm, &k.PEM, &created); err != nil {
			return nil, err
		}
		k.Created = fromUnix(created)
		out = append(out, k)
	}
	return out, rows.Err()
}
