package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gannet/internal/store"
)

var _ store.SieveStore = (*Store)(nil)

// PutSieveScript implements store.SieveStore.
func (s *Store) PutSieveScript(ctx context.Context, accountID int64, name string, content []byte) error {
	if err := store.ValidateSieveScript(name, content); err != nil {
		return err
	}
	if content == nil {
		content = []byte{}
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var n, exists int
		err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sieve_scripts WHERE account_id = ?1),
			(SELECT count(*) FROM sieve_scripts WHERE account_id = ?1 AND name = ?2)
			FROM accounts WHERE id = ?1`, accountID, name).Scan(&n, &exists)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sieve script: account %d: %w", accountID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("put sieve script: %w", err)
		}
		if exists == 0 && n >= store.MaxSieveScripts {
			return fmt.Errorf("put sieve script: %d scripts: %w", n, store.ErrOverQuota)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sieve_scripts(account_id, name, content, updated) VALUES(?, ?, ?, ?)
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
		WHERE account_id = ? AND name = ?`, accountID, name)
}

// ActiveSieveScript implements store.SieveStore.
func (s *Store) ActiveSieveScript(ctx context.Context, accountID int64) (*store.SieveScript, error) {
	return s.oneSieveScript(ctx, `SELECT name, content, active, updated FROM sieve_scripts
		WHERE account_id = ? AND active = 1`, accountID)
}

func (s *Store) oneSieveScript(ctx context.Context, q string, args ...any) (*store.SieveScript, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	var sc store.SieveScript
	var updated int64
	err := s.r.QueryRowContext(ctx, q, args...).Scan(&sc.Name, &sc.Content, &sc.Active, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sieve script: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sieve script: %w", err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT name, length(content), active, updated FROM sieve_scripts
		WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("sieve scripts: %w", err)
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
		return nil, fmt.Errorf("sieve scripts: %w", err)
	}
	return out, nil
}

// ActivateSieveScript implements store.SieveStore.
func (s *Store) ActivateSieveScript(ctx context.Context, accountID int64, name string) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if name != "" {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM sieve_scripts WHERE account_id = ? AND name = ?`,
				accountID, name).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("activate sieve script: %w", store.ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("activate sieve script: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sieve_scripts SET active = 0 WHERE account_id = ? AND active = 1`,
			accountID); err != nil {
			return fmt.Errorf("activate sieve script: %w", err)
		}
		if name == "" {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sieve_scripts SET active = 1 WHERE account_id = ? AND name = ?`,
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
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sieve_scripts WHERE account_id = ? AND name = ?`,
			accountID, newName).Scan(&n); err != nil {
			return fmt.Errorf("rename sieve script: %w", err)
		}
		if n > 0 && oldName != newName {
			return fmt.Errorf("rename sieve script: %w", store.ErrExists)
		}
		res, err := tx.ExecContext(ctx, `UPDATE sieve_scripts SET name = ? WHERE account_id = ? AND name = ?`,
			newName, accountID, oldName)
		if err != nil {
			return fmt.Errorf("rename sieve script: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("rename sieve script: %w", store.ErrNotFound)
		}
		return nil
	})
}

// DeleteSieveScript implements store.SieveStore.
func (s *Store) DeleteSieveScript(ctx context.Context, accountID int64, name string) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var active bool
		err := tx.QueryRowContext(ctx, `SELECT active FROM sieve_scripts WHERE account_id = ? AND name = ?`,
			accountID, name).Scan(&active)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("delete sieve script: %w", store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delete sieve script: %w", err)
		}
		if active {
			return fmt.Errorf("delete sieve script: the active script: %w", store.ErrNotPermitted)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sieve_scripts WHERE account_id = ? AND name = ?`,
			accountID, name); err != nil {
			return fmt.Errorf("delete sieve script: %w", err)
		}
		return nil
	})
}

// MarkSieveSeen implements store.SieveStore. The writer runs one operation
// at a time, so the read and the write below are atomic.
func (s *Store) MarkSieveSeen(ctx context.Context, m store.SeenMark) (bool, error) {
	var seen bool
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sieve_seen WHERE account_id = ? AND expires <= ?`,
			m.AccountID, unix(m.Now)); err != nil {
			return fmt.Errorf("sieve seen: %w", err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sieve_seen WHERE account_id = ? AND kind = ? AND key = ?`,
			m.AccountID, m.Kind, m.Key).Scan(&n); err != nil {
			return fmt.Errorf("sieve seen: %w", err)
		}
		seen = n > 0
		if seen && !m.Refresh {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sieve_seen(account_id, kind, key, expires) VALUES(?, ?, ?, ?)
			ON CONFLICT(account_id, kind, key) DO UPDATE SET expires = excluded.expires`,
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
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM sieve_seen
		WHERE account_id = ? AND kind = ? AND key = ? AND expires > ?`, accountID, kind, key, unix(now)).Scan(&n); err != nil {
		return false, fmt.Errorf("sieve seen: %w", err)
	}
	return n > 0, nil
}

// ForgetSieveSeen implements store.SieveStore.
func (s *Store) ForgetSieveSeen(ctx context.Context, accountID int64, kind, key string) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM sieve_seen WHERE account_id = ? AND kind = ? AND key = ?`,
			accountID, kind, key); err != nil {
			return fmt.Errorf("forget sieve seen: %w", err)
		}
		return nil
	})
}
