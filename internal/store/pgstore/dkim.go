package pgstore

import (
	"context"
	"fmt"

	"gannet/internal/store"
)

var _ store.KeyStore = (*Store)(nil)

// AddDKIMKey implements store.KeyStore. The domain must be local; its keys
// go with it (the foreign key cascades).
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
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := lockDomain(ctx, t, d); err != nil {
			return err
		}
		tag, err := t.Exec(ctx, `INSERT INTO dkim_keys(domain, selector, algorithm, pem, created)
			VALUES($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, d, k.Selector, k.Algorithm, k.PEM, unix(created))
		if err != nil {
			return fmt.Errorf("add dkim key for %s: %w", d, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("dkim key %s for %s: %w", k.Selector, d, store.ErrExists)
		}
		return nil
	})
}

// DKIMKeys implements store.KeyStore: the domain's keys, oldest first.
func (s *Store) DKIMKeys(ctx context.Context, domain string) ([]store.DKIMKey, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	d, err := store.NormDomain(domain)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT domain, selector, algorithm, pem, created FROM dkim_keys
		WHERE domain = $1 ORDER BY created, selector COLLATE "C"`, d)
	if err != nil {
		return nil, fmt.Errorf("dkim keys of %s: %w", d, err)
	}
	defer rows.Close()
	var out []store.DKIMKey
	for rows.Next() {
		var k store.DKIMKey
		var created int64
		if err := rows.Scan(&k.Domain, &k.Selector, &k.Algorithm, &k.PEM, &created); err != nil {
			return nil, fmt.Errorf("dkim keys of %s: %w", d, err)
		}
		k.Created = fromUnix(created)
		out = append(out, k)
	}
	return out, rows.Err()
}
