package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// nextUIDValidity hands out a fresh UIDVALIDITY: the current time in seconds,
// or one more than the last value handed out, whichever is larger, so that a
// mailbox deleted and created again never reuses a value (RFC 9051 2.3.1.1).
// The single row of table uidvalidity is the counter; its row lock, held to
// commit, orders concurrent creations on every node.
func nextUIDValidity(ctx context.Context, t *tx) (uint32, error) {
	var v int64
	err := t.QueryRow(ctx, `UPDATE uidvalidity SET last = GREATEST(last + 1,
			(SELECT CASE WHEN e <= 4294967295 THEN e ELSE 0 END
				FROM (SELECT extract(epoch FROM clock_timestamp())::BIGINT AS e) AS now))
		RETURNING last`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("uidvalidity: %w", err)
	}
	return uint32(v), nil
}

// createMailboxTx creates the mailbox name (already normalised) and any
// missing parents, under one new MODSEQ, and returns the new mailbox's id.
// ErrExists when name exists. The caller holds lockAccount.
func createMailboxTx(ctx context.Context, t *tx, accountID int64, name, specialUse string) (int64, error) {
	switch specialUse {
	case "", store.SpecialSent, store.SpecialDrafts, store.SpecialTrash, store.SpecialJunk, store.SpecialArchive:
	default:
		return 0, fmt.Errorf("special use %q: %w", specialUse, store.ErrInvalidName)
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
	insert := func(name, specialUse string) (int64, bool, error) {
		uv, err := nextUIDValidity(ctx, t)
		if err != nil {
			return 0, false, err
		}
		var id int64
		err = t.QueryRow(ctx, `INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, highest_modseq)
			VALUES($1, $2, $3, $4, $5) ON CONFLICT (account_id, name) DO NOTHING RETURNING id`,
			accountID, name, specialUse, int64(uv), int64(modseq)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, false, nil // a parent that exists
		}
		if err != nil {
			return 0, false, fmt.Errorf("create mailbox %s: %w", name, err)
		}
		t.publish(store.Change{AccountID: accountID, MailboxID: id, ModSeq: modseq, Kind: store.ChangeMailbox})
		return id, true, nil
	}
	for _, p := range store.Parents(name) {
		if _, _, err := insert(p, ""); err != nil {
			return 0, err
		}
	}
	id, ok, err := insert(name, specialUse)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("mailbox %s: %w", name, store.ErrExists)
	}
	return id, nil
}
