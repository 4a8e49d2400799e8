package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unicode/utf8"

	"gannet/internal/store"
)

// nextUIDValidity returns a fresh UIDVALIDITY: the current time in seconds, or one
// more than the last value handed out, whichever is larger, so that a mailbox
// deleted and created again never reuses a value (RFC 9051 2.3.1.1).
func (s *Store) nextUIDValidity(ctx context.Context, tx *wtx) (uint32, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'uidvalidity'`).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("uidvalidity: %w", err)
	}
	v := s.now().Unix()
	if v <= last {
		v = last + 1
	}
	if v > 0xFFFFFFFF {
		v = last + 1
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES('uidvalidity', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, v)
	if err != nil {
		return 0, fmt.Errorf("uidvalidity: %w", err)
	}
	return uint32(v), nil
}

// bumpModSeq takes the account's next MODSEQ (RFC 7162 3.1: one counter per account).
func bumpModSeq(ctx context.Context, tx *wtx, accountID int64) (uint64, error) {
	var m uint64
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET modseq = modseq + 1 WHERE id = ? RETURNING modseq`, accountID).Scan(&m)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("bump modseq: %w", err)
	}
	return m, nil
}

// createMailbox creates name and any missing parents inside tx.
func (s *Store) createMailbox(ctx context.Context, tx *wtx, accountID int64, name, specialUse string) (int64, error) {
	switch specialUse {
	case "", store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk, store.SpecialArchive:
	default:
		return 0, fmt.Errorf("special use %q: %w", specialUse, store.ErrInvalidName)
	}
	var exists int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name).Scan(&exists)
	if err == nil {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	modseq, err := bumpModSeq(ctx, tx, accountID)
	if err != nil {
		return 0, err
	}
	for _, p := range store.Parents(name) {
		uv, err := s.nextUIDValidity(ctx, tx)
		if err != nil {
			return 0, err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO mailboxes(id, account_id, name, uidvalidity, highest_modseq)
			VALUES((SELECT value + 1 FROM meta WHERE key = 'last_mailbox_id'), ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, accountID, p, uv, modseq)
		if err != nil {
			return 0, fmt.Errorf("create mailbox %s: %w", p, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			id, _ := res.LastInsertId()
			tx.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
		}
	}
	uv, err := s.nextUIDValidity(ctx, tx)
	if err != nil {
		return 0, err
	}
	// The id is the high-water mark + 1: mailbox ids are never reused (a
	// session holding a deleted mailbox's id must not reach a new mailbox).
	res, err := tx.ExecContext(ctx, `INSERT INTO mailboxes(id, account_id, name, special_use, uidvalidity, highest_modseq)
		VALUES((SELECT value + 1 FROM meta WHERE key = 'last_mailbox_id'), ?, ?, ?, ?, ?)`, accountID, name, specialUse, uv, modseq)
	if err != nil {
		return 0, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	tx.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
	return id, nil
}

// CreateMailbox implements store.Store.
func (s *Store) CreateMailbox(ctx context.Context, accountID int64, name, specialUse string) (*store.Mailbox, error) {
	n, err := store.NormMailbox(name)
	if err != nil {
		return nil, err
	}
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		_, err := s.createMailbox(ctx, tx, accountID, n, specialUse)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.Mailbox(ctx, accountID, n)
}

// RenameMailbox implements store.Store. Children move with their parent and keep
// their UIDs and UIDVALIDITY. Renaming INBOX moves its messages to a new mailbox
// and leaves INBOX empty (RFC 9051 6.3.6).
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
	if len(to) > len(from) && to[:len(from)+1] == from+"/" {
		return fmt.Errorf("rename %s into its own child: %w", from, store.ErrNotPermitted)
	}
	return s.w.doAlone(ctx, func(ctx context.Context, tx *wtx) error {
		src, err := s.mailboxIDTx(ctx, tx, accountID, from)
		if err != nil {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, to).Scan(&one)
		if err == nil {
			return fmt.Errorf("mailbox %s: %w", to, store.ErrExists)
		}
		if from == "INBOX" {
			dst, err := s.createMailbox(ctx, tx, accountID, to, "")
			if err != nil {
				return err
			}
			_, err = s.moveTx(ctx, tx, accountID, src, nil, dst)
			return err
		}
		modseq, err := bumpModSeq(ctx, tx, accountID)
		if err != nil {
			return err
		}
		// Create the new name's missing parents first (RFC 9051 6.3.6).
		for _, p := range store.Parents(to) {
			if p == from || (len(p) > len(from) && p[:len(from)+1] == from+"/") {
				continue
			}
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, p).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				if _, err := s.createMailbox(ctx, tx, accountID, p, ""); err != nil {
					return err
				}
			}
		}
		// The mailbox and its children. substr keeps LIKE wildcards in names harmless;
		// SQLite counts characters, not bytes.
		nf := utf8.RuneCountInString(from)
		if _, err := tx.ExecContext(ctx, `UPDATE mailboxes SET name = ? || substr(name, ?), highest_modseq = ?
			WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
			to, nf+1, modseq, accountID, from, nf+1, from+"/"); err != nil {
			return fmt.Errorf("rename %s: %w", from, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE OR REPLACE subscriptions SET name = ? || substr(name, ?)
			WHERE account_id = ? AND (name = ? OR substr(name, 1, ?) = ?)`,
			to, nf+1, accountID, from, nf+1, from+"/"); err != nil {
			return fmt.Errorf("rename %s: %w", from, err)
		}
		tx.publish(store.Change{AccountID: accountID, MailboxID: src, ModSeq: modseq, Kind: store.ChangeMailbox})
		return nil
	})
}

// DeleteMailbox implements store.Store. A mailbox with children is refused, as
// Dovecot does, rather than left as \Noselect (RFC 9051 6.3.5 allows either).
func (s *Store) DeleteMailbox(ctx context.Context, accountID int64, name string) error {
	n, err := store.NormMailbox(name)
	if err != nil {
		return err
	}
	if n == "INBOX" {
		return fmt.Errorf("delete INBOX: %w", store.ErrNotPermitted)
	}
	return s.w.doAlone(ctx, func(ctx context.Context, tx *wtx) error {
		id, err := s.mailboxIDTx(ctx, tx, accountID, n)
		if err != nil {
			return err
		}
		var children int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ?`,
			accountID, utf8.RuneCountInString(n)+1, n+"/").Scan(&children); err != nil {
			return err
		}
		if children > 0 {
			return fmt.Errorf("delete %s: %w", n, store.ErrHasChildren)
		}
		var msgs, size int64
		if err := tx.QueryRowContext(ctx, `SELECT messages, size FROM mailboxes WHERE id = ?`, id).Scan(&msgs, &size); err != nil {
			return err
		}
		modseq, err := bumpModSeq(ctx, tx, accountID)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`DELETE FROM messages WHERE mailbox_id = ?`,
			`DELETE FROM tombstones WHERE mailbox_id = ?`,
			`DELETE FROM mailboxes WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete mailbox %s: %w", n, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET used_messages = used_messages - ?, used_bytes = used_bytes - ? WHERE id = ?`,
			msgs, size, accountID); err != nil {
			return err
		}
		tx.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
		return nil
	})
}

// SubscribeMailbox implements store.Store. A subscription may name a mailbox that
// does not exist (RFC 9051 6.3.7).
func (s *Store) SubscribeMailbox(ctx context.Context, accountID int64, name string, subscribed bool) error {
	n, err := store.NormMailbox(name)
	if err != nil {
		return err
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		var err error
		if subscribed {
			_, err = tx.ExecContext(ctx, `INSERT INTO subscriptions(account_id, name) VALUES(?, ?) ON CONFLICT DO NOTHING`, accountID, n)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM subscriptions WHERE account_id = ? AND name = ?`, accountID, n)
		}
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", n, err)
		}
		modseq, err := bumpModSeq(ctx, tx, accountID)
		if err != nil {
			return err
		}
		var id int64 // 0 when subscribing to a name that is not a mailbox
		tx.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, n).Scan(&id)
		tx.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
		return nil
	})
}

// Subscriptions implements store.Store.
func (s *Store) Subscriptions(ctx context.Context, accountID int64) ([]string, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("subscriptions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

const mailboxCols = `m.id, m.account_id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highest_modseq,
	m.messages, m.unseen, m.deleted, m.size,
	EXISTS(SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name)`

func scanMailbox(row interface{ Scan(...any) error }) (*store.Mailbox, error) {
	var m store.Mailbox
	err := row.Scan(&m.ID, &m.AccountID, &m.Name, &m.SpecialUse, &m.UIDValidity, &m.UIDNext, &m.HighestModSeq,
		&m.Messages, &m.Unseen, &m.Deleted, &m.Size, &m.Subscribed)
	if err != nil {
		return nil, err
	}
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
	m, err := scanMailbox(s.r.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = ? AND m.name = ?`, accountID, n))
	if errors.Is(err, sql.ErrNoRows) {
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
	m, err := scanMailbox(s.r.QueryRowContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = ? AND m.id = ?`, accountID, mailboxID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %d: %w", mailboxID, err)
	}
	return m, nil
}

// Mailboxes implements store.Store.
func (s *Store) Mailboxes(ctx context.Context, accountID int64) ([]store.Mailbox, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+mailboxCols+` FROM mailboxes m WHERE m.account_id = ? ORDER BY m.name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	defer rows.Close()
	var out []store.Mailbox
	for rows.Next() {
		m, err := scanMailbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, rows.Err()
}

func (s *Store) mailboxIDTx(ctx context.Context, tx *wtx, accountID int64, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("mailbox %s: %w", name, err)
	}
	return id, nil
}
