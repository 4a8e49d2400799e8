package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gannet/internal/store"
)

var _ store.WebSessions = (*Store)(nil)

// CreateWebSession implements store.WebSessions. The per-account bound is
// applied in the same write as the insert (one writer: no two creates
// interleave).
func (s *Store) CreateWebSession(ctx context.Context, ws store.WebSession, perAccount int) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		if perAccount > 0 {
			// The account's oldest sessions beyond perAccount-1 go.
			if _, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE token_hash IN (
				SELECT token_hash FROM web_sessions WHERE account_id = ?
				ORDER BY created DESC, token_hash LIMIT -1 OFFSET ?)`, ws.AccountID, perAccount-1); err != nil {
				return fmt.Errorf("web session bound: %w", err)
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO web_sessions(token_hash, account_id, csrf, credential, created, last_seen)
			VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ws.TokenHash[:], ws.AccountID, ws.CSRF, ws.Credential[:], unix(ws.Created), unix(ws.LastSeen))
		if err != nil {
			return fmt.Errorf("create web session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("web session: %w", store.ErrExists)
		}
		return nil
	})
}

// WebSession implements store.WebSessions.
func (s *Store) WebSession(ctx context.Context, tokenHash [32]byte) (*store.WebSession, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	ws := store.WebSession{TokenHash: tokenHash}
	var cred []byte
	var created, seen int64
	err := s.r.QueryRowContext(ctx, `SELECT account_id, csrf, credential, created, last_seen
		FROM web_sessions WHERE token_hash = ?`, tokenHash[:]).Scan(&ws.AccountID, &ws.CSRF, &cred, &created, &seen)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("web session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("web session: %w", err)
	}
	if len(cred) != len(ws.Credential) {
		return nil, fmt.Errorf("web session: credential of %d bytes", len(cred))
	}
	copy(ws.Credential[:], cred)
	ws.Created, ws.LastSeen = fromUnix(created), fromUnix(seen)
	return &ws, nil
}

// TouchWebSession implements store.WebSessions.
func (s *Store) TouchWebSession(ctx context.Context, tokenHash [32]byte, at time.Time) error {
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE web_sessions SET last_seen = max(last_seen, ?) WHERE token_hash = ?`,
			unix(at), tokenHash[:])
		if err != nil {
			return fmt.Errorf("touch web session: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("web session: %w", store.ErrNotFound)
		}
		return nil
	})
}

// DeleteWebSession implements store.WebSessions.
func (s *Store) DeleteWebSession(ctx context.Context, tokenHash [32]byte) (bool, error) {
	n, err := s.deleteWebSessions(ctx, `DELETE FROM web_sessions WHERE token_hash = ?`, tokenHash[:])
	return n > 0, err
}

// DeleteAccountWebSessions implements store.WebSessions.
func (s *Store) DeleteAccountWebSessions(ctx context.Context, accountID int64) (int, error) {
	return s.deleteWebSessions(ctx, `DELETE FROM web_sessions WHERE account_id = ?`, accountID)
}

// ExpireWebSessions implements store.WebSessions.
func (s *Store) ExpireWebSessions(ctx context.Context, idleBefore, createdBefore time.Time, maxTotal int) (int, error) {
	var n int64
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE last_seen < ? OR created < ?`,
			unix(idleBefore), unix(createdBefore))
		if err != nil {
			return fmt.Errorf("expire web sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		if maxTotal <= 0 {
			return nil
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE token_hash IN (
			SELECT token_hash FROM web_sessions
			ORDER BY last_seen DESC, created DESC, token_hash LIMIT -1 OFFSET ?)`, maxTotal)
		if err != nil {
			return fmt.Errorf("web session bound: %w", err)
		}
		m, _ := res.RowsAffected()
		n += m
		return nil
	})
	return int(n), err
}

func (s *Store) deleteWebSessions(ctx context.Context, query string, args ...any) (int, error) {
	var n int64
	err := s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("delete web sessions: %w", err)
		}
		n, _ = res.RowsAffected()
		return nil
	})
	return int(n), err
}
