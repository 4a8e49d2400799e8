package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

var _ store.SieveStore = (*Store)(nil)

// PutSieveScript implements store.SieveStore. The account row's lock orders
// concurrent puts, so the count bound is exact.
func (s *Store) PutSieveScript(ctx context.Context, accountID int64, name string, content []byte) error {
	if err := store.ValidateSieveScript(name, content); err != nil {
		return err
	}
	if content == nil {
		content = []byte{}
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return fmt.Errorf("put sieve script: %w", err)
		}
		var n, exists int
		if err := t.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE name = $2)
			FROM sieve_scripts WHERE account_id = $1`, accountID, name).Scan(&n, &exists); err != nil {
			return fmt.Errorf("put sieve script: %w", err)
		}
		if exists == 0 && n >= store.MaxSieveScripts {
			return fmt.Errorf("put sieve script: %d scripts: %w", n, store.ErrOverQuota)
		}
		if _, err := t.Exec(ctx, `INSERT INTO sieve_scripts(account_id, name, content, updated) VALUES($1, $2, $3, $4)
			ON CONFLICT(account_id, name) DO UPDATE SET content = excluded.content, updated = excluded.updated`,
			accountID, name, content, unix(s.now())); err != nil {
			return fmt.Errorf("put sieve script: %w", err)
		}
		return nil
	})
}

// SieveScript implements store.SieveStore.
func (s *Store) SieveScript(ctx context.Context, accountID int64, name string) (*store.SieveScript, error) {
	return s.oneSieveScript(ctx, `SELECT name, content, active, updated FROM sieve_scripts
		WHERE account_id = $1 AND name = $2`, accountID, name)
}

// ActiveSieveScript implements store.SieveStore.
func (s *Store) ActiveSieveScript(ctx context.Context, accountID int64) (*store.SieveScript, error) {
	return s.oneSieveScript(ctx, `SELECT name, content, active, updated FROM sieve_scripts
		WHERE account_id = $1 AND active`, accountID)
}

func (s *Store) oneSieveScript(ctx context.Context, q string, args ...any) (*store.SieveScript, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var sc store.SieveScript
	var updated int64
	err := s.pool.QueryRow(ctx, q, args...).Scan(&sc.Name, &sc.Content, &sc.Active, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("sieve script: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sieve script: %w", mapErr(err))
	}
	sc.Size = int64(len(sc.Content))
	sc.Updated = fromUnix(updated)
	return &sc, nil
}

// SieveScripts implements store.SieveStore.
func (s *Store) SieveScripts(ctx context.Context, accountID int64) ([]store.SieveScript, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT name, length(content), active, updated FROM sieve_scripts
		WHERE account_id = $1 ORDER BY name COLLATE "C"`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sieve scripts: %w", mapErr(err))
	}
	defer rows.Close()
	var out []store.SieveScript
	for rows.Next() {
		var sc store.SieveScript
		var updated int64
		if err := rows.Scan(&sc.Name, &sc.Size, &sc.Active, &updated); err != nil {
			return nil, fmt.Errorf("sieve scripts: %w", err)
		}
		sc.Updated = fromUnix(updated)
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sieve scripts: %w", mapErr(err))
	}
	return out, nil
}

// ActivateSieveScript implements store.SieveStore.
func (s *Store) ActivateSieveScript(ctx context.Context, accountID int64, name string) error {
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return fmt.Errorf("activate sieve script: %w", err)
		}
		if name != "" {
			var one int
			err := t.QueryRow(ctx, `SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2`,
				accountID, name).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("activate sieve script: %w", store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("activate sieve script: %w", err)
			}
		}
		if _, err := t.Exec(ctx, `UPDATE sieve_scripts SET active = false WHERE account_id = $1 AND active`,
			accountID); err != nil {
			return fmt.Errorf("activate sieve script: %w", err)
		}
		if name == "" {
			return nil
		}
		if _, err := t.Exec(ctx, `UPDATE sieve_scripts SET active = true WHERE account_id = $1 AND name = $2`,
			accountID, name); err != nil {
			return fmt.Errorf("activate sieve script: %w", err)
		}
		return nil
	})
}

// RenameSieveScript implements store.SieveStore.
func (s *Store) RenameSieveScript(ctx context.Context, accountID int64, oldName, newName string) error {
	if err := store.CheckSieveName(newName); err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return fmt.Errorf("rename sieve script: %w", err)
		}
		var n int
		if err := t.QueryRow(ctx, `SELECT count(*) FROM sieve_scripts WHERE account_id = $1 AND name = $2`,
			accountID, newName).Scan(&n); err != nil {
			return fmt.Errorf("rename sieve script: %w", err)
		}
		if n > 0 && oldName != newName {
			return fmt.Errorf("rename sieve script: %w", store.ErrExists)
		}
		tag, err := t.Exec(ctx, `UPDATE sieve_scripts SET name = $1 WHERE account_id = $2 AND name = $3`,
			newName, accountID, oldName)
		if err != nil {
			return fmt.Errorf("rename sieve script: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("rename sieve script: %w", store.ErrNotFound)
		}
		return nil
	})
}

// DeleteSieveScript implements store.SieveStore.
func (s *Store) DeleteSieveScript(ctx context.Context, accountID int64, name string) error {
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return fmt.Errorf("delete sieve script: %w", err)
		}
		var active bool
		err := t.QueryRow(ctx, `SELECT active FROM sieve_scripts WHERE account_id = $1 AND name = $2`,
			accountID, name).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("delete sieve script: %w", store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delete sieve script: %w", err)
		}
		if active {
			return fmt.Errorf("delete sieve script: the active script: %w", store.ErrNotPermitted)
		}
		if _, err := t.Exec(ctx, `DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2`,
			accountID, name); err != nil {
			return fmt.Errorf("delete sieve script: %w", err)
		}
		return nil
	})
}

// MarkSieveSeen implements store.SieveStore. The insert's conflict check
// makes it atomic: of two concurrent marks of a new key, one inserts and the
// other waits for it and then finds the row.
func (s *Store) MarkSieveSeen(ctx context.Context, m store.SeenMark) (bool, error) {
	var seen bool
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.Exec(ctx, `DELETE FROM sieve_seen WHERE account_id = $1 AND expires <= $2`,
			m.AccountID, unix(m.Now)); err != nil {
			return fmt.Errorf("sieve seen: %w", err)
		}
		tag, err := t.Exec(ctx, `INSERT INTO sieve_seen(account_id, kind, key, expires) VALUES($1, $2, $3, $4)
			ON CONFLICT(account_id, kind, key) DO NOTHING`, m.AccountID, m.Kind, m.Key, unix(m.Expires))
		if err != nil {
			return fmt.Errorf("sieve seen: %w", err)
		}
		if tag.RowsAffected() == 1 {
			seen = false
			return nil
		}
		// The row exists; one expired since the DELETE's snapshot counts as unseen.
		var expires int64
		if err := t.QueryRow(ctx, `SELECT expires FROM sieve_seen WHERE account_id = $1 AND kind = $2 AND key = $3 FOR UPDATE`,
			m.AccountID, m.Kind, m.Key).Scan(&expires); err != nil {
			return fmt.Errorf("sieve seen: %w", err)
		}
		seen = expires > unix(m.Now)
		if seen && !m.Refresh {
			return nil
		}
		if _, err := t.Exec(ctx, `UPDATE sieve_seen SET expires = $4 WHERE account_id = $1 AND kind = $2 AND key = $3`,
			m.AccountID, m.Kind, m.Key, unix(m.Expires)); err != nil {
			return fmt.Errorf("sieve seen: %w", err)
		}
		return nil
	})
	return seen, err
}

// SieveSeen implements store.SieveStore.
func (s *Store) SieveSeen(ctx context.Context, accountID int64, kind, key string, now time.Time) (bool, error) {
	if err := s.alive(); err != nil {
		return false, err
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM sieve_seen
		WHERE account_id = $1 AND kind = $2 AND key = $3 AND expires > $4`, accountID, kind, key, unix(now)).Scan(&n); err != nil {
		return false, fmt.Errorf("sieve seen: %w", mapErr(err))
	}
	return n > 0, nil
}

// ForgetSieveSeen implements store.SieveStore.
func (s *Store) ForgetSieveSeen(ctx context.Context, accountID int64, kind, key string) error {
	if err := s.alive(); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM sieve_seen WHERE account_id = $1 AND kind = $2 AND key = $3`,
		accountID, kind, key); err != nil {
		return fmt.Errorf("forget sieve seen: %w", mapErr(err))
	}
	return nil
}
