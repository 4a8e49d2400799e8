package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

var _ store.WebSessions = (*Store)(nil)

// CreateWebSession implements store.WebSessions.
func (s *Store) CreateWebSession(ctx context.Context, ws store.WebSession, perAccount int) error {
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, webSessionsLock); err != nil {
			return fmt.Errorf("web session lock: %w", err)
		}
		if perAccount > 0 {
			// The account's oldest sessions beyond perAccount-1 go.
			if _, err := t.Exec(ctx, `DELETE FROM web_sessions WHERE token_hash IN (
				SELECT token_hash FROM web_sessions WHERE account_id = $1
				ORDER BY created DESC, token_hash OFFSET $2)`, ws.AccountID, perAccount-1); err != nil {
				return fmt.Errorf("web session bound: %w", err)
			}
		}
		tag, err := t.Exec(ctx, `INSERT INTO web_sessions(token_hash, account_id, csrf, credential, created, last_seen)
			VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			ws.TokenHash[:], ws.AccountID, ws.CSRF, ws.Credential[:], unix(ws.Created), unix(ws.LastSeen))
		if err != nil {
			return fmt.Errorf("create web session: %w", err)
		}
		if tag.RowsAffected() == 0 {
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
	err := s.pool.QueryRow(ctx, `SELECT account_id, csrf, credential, created, last_seen
		FROM web_sessions WHERE token_hash = $1`, tokenHash[:]).Scan(&ws.AccountID, &ws.CSRF, &cred, &created, &seen)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("web session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("web session: %w", mapErr(err))
	}
	if len(cred) != len(ws.Credential) {
		return nil, fmt.Errorf("web session: credential of %d bytes", len(cred))
	}
	copy(ws.Credential[:], cred)
	ws.Created, ws.LastSeen = fromUnix(created), fromUnix(seen)
	return &ws, nil
}

// TouchWebSession implements store.WebSessions. One statement: no need for
// the retrying transaction of s.write.
func (s *Store) TouchWebSession(ctx context.Context, tokenHash [32]byte, at time.Time) error {
	n, err := s.execWebSessions(ctx, `UPDATE web_sessions SET last_seen = greatest(last_seen, $1) WHERE token_hash = $2`,
		unix(at), tokenHash[:])
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("web session: %w", store.ErrNotFound)
	}
	return nil
}

// DeleteWebSession implements store.WebSessions.
func (s *Store) DeleteWebSession(ctx context.Context, tokenHash [32]byte) (bool, error) {
	n, err := s.execWebSessions(ctx, `DELETE FROM web_sessions WHERE token_hash = $1`, tokenHash[:])
	return n > 0, err
}

// DeleteAccountWebSessions implements store.WebSessions.
func (s *Store) DeleteAccountWebSessions(ctx context.Context, accountID int64) (int, error) {
	return s.execWebSessions(ctx, `DELETE FROM web_sessions WHERE account_id = $1`, accountID)
}

// ExpireWebSessions implements store.WebSessions.
func (s *Store) ExpireWebSessions(ctx context.Context, idleBefore, createdBefore time.Time, maxTotal int) (int, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, t *tx) error {
		tag, err := t.Exec(ctx, `DELETE FROM web_sessions WHERE last_seen < $1 OR created < $2`,
			unix(idleBefore), unix(createdBefore))
		if err != nil {
			return fmt.Errorf("expire web sessions: %w", err)
		}
		n = tag.RowsAffected()
		if maxTotal <= 0 {
			return nil
		}
		tag, err = t.Exec(ctx, `DELETE FROM web_sessions WHERE token_hash IN (
			SELECT token_hash FROM web_sessions
			ORDER BY last_seen DESC, created DESC, token_hash OFFSET $1)`, maxTotal)
		if err != nil {
			return fmt.Errorf("web session bound: %w", err)
		}
		n += tag.RowsAffected()
		return nil
	})
	return int(n), err
}

// execWebSessions runs one autocommitted statement and returns the rows it
// changed.
func (s *Store) execWebSessions(ctx context.Context, query string, args ...any) (int, error) {
	if err := s.alive(); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("web sessions: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}
