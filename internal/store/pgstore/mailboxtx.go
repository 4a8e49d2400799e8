package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// nextUIDValidity returns a fresh UIDVALIDITY: the current time in seconds,
// or one more than the last value handed out, whichever is larger, so that a
// mailbox deleted and created again never reuses a value (RFC 9051 2.3.1.1).
// The uidvalidity table's one row is locked until commit, so two nodes
// creating mailboxes at once hand out distinct values. Lock order: take it
// after the account's row lock (never before), as every caller does through
// createMailboxTx, so that it cannot deadlock with an account lock.
func (s *Store) nextUIDValidity(ctx context.Context, t *tx) (uint32, error) {
	var last int64
	if err := t.QueryRow(ctx, `SELECT last FROM uidvalidity FOR UPDATE`).Scan(&last); err != nil {
		return 0, fmt.Errorf("uidvalidity: %w", err)
	}
	v := s.now().Unix()
	if v <= last {
		v = last + 1
	}
	if v > 0xFFFFFFFF {
		v = last + 1
	}
	if _, err := t.Exec(ctx, `UPDATE uidvalidity SET last = $1`, v); err != nil {
		return 0, fmt.Errorf("uidvalidity: %w", err)
	}
	return uint32(v), nil
}

// createMailboxTx creates mailbox name (normalised: store.NormMailbox) and
// any missing parents inside t, all with the account's next MODSEQ, each
// with a fresh UIDVALIDITY, and publishes a ChangeMailbox for each mailbox
// created. It returns the new mailbox's id; ErrExists if it exists,
// ErrInvalidName for an unknown special use, ErrNotFound if the account
// does not exist. It is the body of CreateMailbox and of AddAccount's
// default mailboxes, as sqlstore's createMailbox.
func (s *Store) createMailboxTx(ctx context.Context, t *tx, accountID int64, name, specialUse string) (int64, error) {
	switch specialUse {
	case "", store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk, store.SpecialArchive:
	default:
		return 0, fmt.Errorf("special use %q: %w", specialUse, store.ErrInvalidName)
	}
	// The account's lock first: a concurrent CreateMailbox of the same name
	// waits here, then sees ours below.
	if _, err := lockAccount(ctx, t, accountID); err != nil {
		return 0, err
	}
	var one int
	err := t.QueryRow(ctx, `SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2`, accountID, name).Scan(&one)
	if err == nil {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	modseq, err := nextModSeq(ctx, t, accountID)
	if err != nil {
		return 0, err
	}
	for _, p := range store.Parents(name) {
		uv, err := s.nextUIDValidity(ctx, t)
		if err != nil {
			return 0, err
		}
		var id int64
		err = t.QueryRow(ctx, `INSERT INTO mailboxes(account_id, name, uidvalidity, highest_modseq)
			VALUES($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id`, accountID, p, int64(uv), int64(modseq)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // the parent exists
		}
		if err != nil {
			return 0, fmt.Errorf("create mailbox %s: %w", p, err)
		}
		t.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
	}
	uv, err := s.nextUIDValidity(ctx, t)
	if err != nil {
		return 0, err
	}
	var id int64
	err = t.QueryRow(ctx, `INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, highest_modseq)
		VALUES($1, $2, $3, $4, $5) RETURNING id`, accountID, name, specialUse, int64(uv), int64(modseq)).Scan(&id)
	if isUnique(err) {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("create mailbox %s: %w", name, err)
	}
	t.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
	return id, nil
}
