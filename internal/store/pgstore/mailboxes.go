package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// CreateMailbox implements store.Store.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*store.Mailbox, error) {
	n, err := store.NormMailbox(name)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return err
		}
		_, err := createMailboxTx(ctx, t, accountID, n, specialUse)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Mailbox(ctx, accountID, n)
}

// underName is the SQL condition "name is $n or one of its descendants",
// with $n the name and $n+1 its length in characters plus one. substr keeps
// LIKE wildcards in names harmless; PostgreSQL counts characters, as the
// length does.
func underName(n int) string {
	return fmt.Sprintf(`(name = $%d OR substr(name, 1, $%d) = $%d || '/')`, n, n+1, n)
}

// RenameMailbox implements store.Store. Children move with their parent and
// keep their UIDs and UIDVALIDITY. Renaming INBOX moves its messages to a new
// mailbox and leaves INBOX empty (RFC 9051 6.3.6).
func (s *Store) RenameMailbox(ctx context.Context, accountID int64, oldName, newName string) error {
	from, err := store.NormMailbox(oldName)
	if err != nil {
		return err
	}
	to, err := store.NormMailbox(newName)
	if err != nil {
		return err
	}
	if from == to {
		return fmt.Errorf("rename %s to itself: %w", from, store.ErrExists)
	}
	if strings.HasPrefix(to, from+"/") {
		return fmt.Errorf("rename %s into its own child: %w", from, store.ErrNotPermitted)
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return err
		}
		src, err := mailboxIDTx(ctx, t, accountID, from)
		if err != nil {
			return err
		}
		if _, err := mailboxIDTx(ctx, t, accountID, to); err == nil {
			return fmt.Errorf("mailbox %s: %w", to, store.ErrExists)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if from == "INBOX" {
			dst, err := createMailboxTx(ctx, t, accountID, to, "")
			if err != nil {
				return err
			}
			_, err = moveTx(ctx, t, accountID, src, nil, dst)
			return err
		}
		modseq, err := nextModSeq(ctx, t, accountID)
		if err != nil {
			return err
		}
		// Create the new name's missing parents first (RFC 9051 6.3.6),
		// except those that the rename itself brings.
		for _, p := range store.Parents(to) {
			if p == from || strings.HasPrefix(p, from+"/") {
				continue
			}
			if _, err := mailboxIDTx(ctx, t, accountID, p); errors.Is(err, store.ErrNotFound) {
				if _, err := createMailboxTx(ctx, t, accountID, p, ""); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		nf := utf8.RuneCountInString(from) + 1
		if _, err := t.Exec(ctx, `UPDATE mailboxes SET name = $1 || substr(name, $4), highest_modseq = $2
			WHERE account_id = $5 AND `+underName(3), to, int64(modseq), from, nf, accountID); err != nil {
			return fmt.Errorf("rename %s: %w", from, err)
		}
		// Subscriptions follow; one already held under a new name wins
		// (sqlstore's UPDATE OR REPLACE).
		if _, err := t.Exec(ctx, `DELETE FROM subscriptions WHERE account_id = $4 AND NOT `+underName(2)+`
			AND name IN (SELECT $1 || substr(name, $3) FROM subscriptions WHERE account_id = $4 AND `+underName(2)+`)`,
			to, from, nf, accountID); err != nil {
			return fmt.Errorf("rename %s: %w", from, err)
		}
		if _, err := t.Exec(ctx, `UPDATE subscriptions SET name = $1 || substr(name, $3)
			WHERE account_id = $4 AND `+underName(2), to, from, nf, accountID); err != nil {
			return fmt.Errorf("rename %s: %w", from, err)
		}
		t.publish(store.Change{AccountID: accountID, MailboxID: src, ModSeq: modseq, Kind: store.ChangeMailbox})
		return nil
	})
}

// DeleteMailbox implements store.Store. A mailbox with children is refused,
// as Dovecot does, rather than left as \Noselect (RFC 9051 6.3.5 allows
// either). Its messages, tombstones and quota usage go with it.
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	n, err := store.NormMailbox(name)
	if err != nil {
		return err
	}
	if n == "INBOX" {
		return fmt.Errorf("delete INBOX: %w", store.ErrNotPermitted)
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		if _, err := lockAccount(ctx, t, accountID); err != nil {
			return err
		}
		var id, msgs, size int64
		var children bool
		err := t.QueryRow(ctx, `SELECT id, messages, size, EXISTS(SELECT 1 FROM mailboxes c
				WHERE c.account_id = m.account_id AND substr(c.name, 1, $3) = m.name || '/')
			FROM mailboxes m WHERE account_id = $1 AND name = $2`,
			accountID, n, utf8.RuneCountInString(n)+1).Scan(&id, &msgs, &size, &children)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("mailbox %s: %w", n, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delete mailbox %s: %w", n, err)
		}
		if children {
			return fmt.Errorf("delete %s: %w", n, store.ErrHasChildren)
		}
		modseq, err := nextModSeq(ctx, t, accountID)
		if err != nil {
			return err
		}
		// The messages go by the foreign key's cascade; tombstones have
		// none (schema 0001).
		if _, err := t.Exec(ctx, `DELETE FROM tombstones WHERE mailbox_id = $1`, id); err != nil {
			return fmt.Errorf("delete mailbox %s: %w", n, err)
		}
		if _, err := t.Exec(ctx, `DELETE FROM mailboxes WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete mailbox %s: %w", n, err)
		}
		if _, err := t.Exec(ctx, `UPDATE accounts SET used_messages = used_messages - $1, used_bytes = used_bytes - $2 WHERE id = $3`,
			msgs, size, accountID); err != nil {
			return fmt.Errorf("delete mailbox %s: %w", n, err)
		}
		t.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
		return nil
	})
}

// SubscribeMailbox implements store.Store. A subscription may name a mailbox
// that does not exist (RFC 9051 6.3.7).
func (s *Store) SubscribeMailbox(ctx context.Context, accountID int64, name string, subscribed bool) error {
	n, err := store.NormMailbox(name)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		modseq, err := nextModSeq(ctx, t, accountID) // also the account's lock
		if err != nil {
			return err
		}
		if subscribed {
			_, err = t.Exec(ctx, `INSERT INTO subscriptions(account_id, name) VALUES($1, $2) ON CONFLICT DO NOTHING`, accountID, n)
		} else {
			_, err = t.Exec(ctx, `DELETE FROM subscriptions WHERE account_id = $1 AND name = $2`, accountID, n)
		}
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", n, err)
		}
		id, err := mailboxIDTx(ctx, t, accountID, n)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// id is 0 for a subscription to a name that is not a mailbox.
		t.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
		return nil
	})
}

// Subscriptions implements store.Store.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name COLLATE "C"`, accountID)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	return out, nil
}

const mailboxCols = `m.id, m.account_id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highest_modseq,
	m.messages, m.unseen, m.deleted, m.size,
	EXISTS(SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name)`

func scanMailbox(row pgx.Row) (*store.Mailbox, error) {
	var m store.Mailbox
	var uv, next, hm int64
	err := row.Scan(&m.ID, &m.AccountID, &m.Name, &m.SpecialUse, &uv, &next, &hm,
		&m.Messages, &m.Unseen, &m.Deleted, &m.Size, &m.Subscribed)
	if err != nil {
		return nil, err
	}
	m.UIDValidity, m.UIDNext, m.HighestModSeq = uint32(uv), uint32(next), uint64(hm)
	return &m, nil
}

// Mailbox implements store.Store.
func (s *Store) Mailbox(ctx context.Context, accountID int64, name string) (*store.Mailbox, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	n, err := store.NormMailbox(name)
	if err != nil {
		return nil, fmt.Errorf("mailbox %q: %w", name, store.ErrNotFound)
	}
	m, err := scanMailbox(s.pool.QueryRow(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2`, accountID, n))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %s: %w", n, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %s: %w", n, err)
	}
	return m, nil
}

// MailboxByID implements store.Store. The account must own the mailbox.
func (s *Store) MailboxByID(ctx context.Context, accountID, mailboxID int64) (*store.Mailbox, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	m, err := scanMailbox(s.pool.QueryRow(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = $1 AND m.id = $2`, accountID, mailboxID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, err)
	}
	return m, nil
}

// Mailboxes implements store.Store: every mailbox of the account with its
// counters, ordered by name (byte order, as sqlstore: COLLATE "C").
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = $1 ORDER BY m.name COLLATE "C"`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	defer rows.Close()
	var out []store.Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, fmt.Errorf("list mailboxes: %w", err)
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	return out, nil
}

// mailboxIDTx looks a mailbox up by name inside t; ErrNotFound when absent.
func mailboxIDTx(ctx context.Context, t *tx, accountID int64, name string) (int64, error) {
	var id int64
	err := t.QueryRow(ctx, `SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2`, accountID, name).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("mailbox %s: %w", name, err)
	}
	return id, nil
}
