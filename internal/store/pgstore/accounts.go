package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// Text is ordered with COLLATE "C" (byte order) wherever a list is sorted,
// as SQLite's BINARY collation sorts it: the order must not depend on the
// locale the database was created with.

// AddDomain implements store.Store.
func (s *Store) AddDomain(ctx context.Context, name string) error {
	d, err := store.NormDomain(name)
	if err != nil {
		return err
	}
	defer s.directoryChanged()
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		tag, err := t.Exec(ctx, `INSERT INTO domains(name, created) VALUES($1, $2) ON CONFLICT DO NOTHING`, d, unix(s.now()))
		if err != nil {
			return fmt.Errorf("add domain %s: %w", d, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("domain %s: %w", d, store.ErrExists)
		}
		return nil
	})
}

// DeleteDomain implements store.Store. A domain with accounts cannot be
// deleted. The domain row is locked first: an AddAccount, AddAlias or
// AddDKIMKey under way on another node holds a key-share lock on it (the
// accounts foreign key, or lockDomain), so the count below sees everything
// they commit, and they see the domain gone after.
func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	d, err := store.NormDomain(name)
	if err != nil {
		return err
	}
	defer s.directoryChanged()
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		var one int
		err := t.QueryRow(ctx, `SELECT 1 FROM domains WHERE name = $1 FOR UPDATE`, d).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("domain %s: %w", d, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delete domain %s: %w", d, err)
		}
		var n int64
		if err := t.QueryRow(ctx, `SELECT count(*) FROM accounts WHERE domain = $1`, d).Scan(&n); err != nil {
			return fmt.Errorf("delete domain %s: %w", d, err)
		}
		if n > 0 {
			return fmt.Errorf("domain %s has %d accounts: %w", d, n, store.ErrNotPermitted)
		}
		if _, err := t.Exec(ctx, `DELETE FROM domains WHERE name = $1`, d); err != nil {
			if isForeignKey(err) {
				return fmt.Errorf("domain %s has accounts: %w", d, store.ErrNotPermitted)
			}
			return fmt.Errorf("delete domain %s: %w", d, err)
		}
		// Aliases of the domain (including its catch-all) go with it; the
		// DKIM keys by the foreign key's cascade. A suffix compare, not
		// LIKE: "_" in a name would be a wildcard.
		if _, err := t.Exec(ctx, `DELETE FROM aliases WHERE right(address, length($1) + 1) = '@' || $1`, d); err != nil {
			return fmt.Errorf("delete domain %s: aliases: %w", d, err)
		}
		return nil
	})
}

// lockDomain checks that domain d exists and holds a key-share lock on its
// row until commit, so that DeleteDomain on another node cannot remove it
// under a write that depends on it. ErrNotFound if it does not exist.
func lockDomain(ctx context.Context, t *tx, d string) error {
	var one int
	err := t.QueryRow(ctx, `SELECT 1 FROM domains WHERE name = $1 FOR KEY SHARE`, d).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("domain %s: %w", d, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("look up domain %s: %w", d, err)
	}
	return nil
}

// lockAddress serialises, across nodes, the writes that decide whether an
// address is an account or an alias (AddAccount, AddAlias), so that
// AddAlias's "is it an account?" check cannot race an AddAccount of the same
// address. A transaction-scoped advisory lock in the two-key space (which
// does not overlap the one-key locks of the schema's triggers), keyed with
// the address's hash; a collision only serialises two unrelated writes.
func lockAddress(ctx context.Context, t *tx, addr string) error {
	if _, err := t.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, addressLockSpace, addr); err != nil {
		return fmt.Errorf("lock address %s: %w", addr, err)
	}
	return nil
}

// Domains implements store.Store.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT name, created FROM domains ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []store.Domain
	for rows.Next() {
		var d store.Domain
		var created int64
		if err := rows.Scan(&d.Name, &created); err != nil {
			return nil, fmt.Errorf("list domains: %w", err)
		}
		d.Created = fromUnix(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// IsLocalDomain implements store.Store, through the core's domain cache
// (directory.go: how stale it may be).
func (s *Store) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	if err := s.alive(); err != nil {
		return false, err
	}
	return s.dir.IsLocalDomain(ctx, name)
}

// AddAccount implements store.Store: the account with its default
// mailboxes, each subscribed, in one transaction. The id comes from the
// accounts identity sequence: distinct on every node, never reused.
func (s *Store) AddAccount(ctx context.Context, address, pw string) (*store.Account, error) {
	defer s.directoryChanged()
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return nil, err
	}
	addr := local + "@" + domain
	// Hash before the transaction: argon2id is deliberately slow.
	hash, scram, err := store.HashPassword(pw, s.fastPw)
	if err != nil {
		return nil, err
	}
	err = s.write(ctx, func(ctx context.Context, t *tx) error {
		if err := lockDomain(ctx, t, domain); err != nil {
			return err
		}
		if err := lockAddress(ctx, t, addr); err != nil {
			return err
		}
		var id int64
		err := t.QueryRow(ctx, `INSERT INTO accounts(address, domain, password, scram, created)
			VALUES($1, $2, $3, $4, $5) ON CONFLICT (address) DO NOTHING RETURNING id`,
			addr, domain, hash, scram, unix(s.now())).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("account %s: %w", addr, store.ErrExists)
		}
		if isForeignKey(err) { // the domain went (cannot happen under lockDomain)
			return fmt.Errorf("domain %s: %w", domain, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("add account %s: %w", addr, err)
		}
		// The new row is ours until commit: no other transaction can lock
		// it (createMailboxTx's condition that the caller holds the lock).
		for _, mb := range store.DefaultMailboxes {
			if _, err := createMailboxTx(ctx, t, id, mb.Name, mb.SpecialUse); err != nil {
				return err
			}
			if _, err := t.Exec(ctx, `INSERT INTO subscriptions(account_id, name) VALUES($1, $2)`, id, mb.Name); err != nil {
				return fmt.Errorf("add account %s: subscribe %s: %w", addr, mb.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Account(ctx, addr)
}

// DeleteAccount implements store.Store. Mailboxes, messages and
// subscriptions go with the account (foreign keys cascade); tombstones and
// aliases pointing at it are deleted here; the bodies are collected by GC.
// The account's row lock is taken first, so that a delivery or a flag change
// under way finishes before (and one after finds no account). The revocation
// feed's row is written by the schema's trigger.
func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	defer s.directoryChanged()
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	addr := local + "@" + domain
	// After the commit: a login racing the delete cannot leave the
	// password cached (and the cache key covers the account id anyway).
	defer s.auth.Forget(addr)
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		var id int64
		err := t.QueryRow(ctx, `SELECT id FROM accounts WHERE address = $1 FOR UPDATE`, addr).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("account %s: %w", addr, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("delete account %s: %w", addr, err)
		}
		for _, q := range []string{
			`DELETE FROM tombstones WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1)`,
			`DELETE FROM accounts WHERE id = $1`,
		} {
			if _, err := t.Exec(ctx, q, id); err != nil {
				return fmt.Errorf("delete account %s: %w", addr, err)
			}
		}
		if _, err := t.Exec(ctx, `DELETE FROM aliases WHERE target = $1`, addr); err != nil {
			return fmt.Errorf("delete account %s: aliases: %w", addr, err)
		}
		return nil
	})
}

// SetPassword implements store.Store. Every node's cache misses at once: its
// key covers the password hash, which every login reads from the database.
func (s *Store) SetPassword(ctx context.Context, address, pw string) error {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	hash, scram, err := store.HashPassword(pw, s.fastPw)
	if err != nil {
		return err
	}
	addr := local + "@" + domain
	err = s.updateAccount(ctx, addr, `UPDATE accounts SET password = $1, scram = $2 WHERE address = $3`, hash, scram)
	// After the commit: a login racing the change cannot leave the old
	// password cached.
	s.auth.Forget(addr)
	return err
}

// SetQuota implements store.Store.
func (s *Store) SetQuota(ctx context.Context, address string, bytes, messages int64) error {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	if bytes < 0 || messages < 0 {
		return fmt.Errorf("negative quota: %w", store.ErrInvalidName)
	}
	return s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET quota_bytes = $1, quota_messages = $2 WHERE address = $3`, bytes, messages)
}

// SetPOP3Policy implements store.Store.
func (s *Store) SetPOP3Policy(ctx context.Context, address, policy string) error {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	switch policy {
	case store.POP3Delete, store.POP3Archive, store.POP3Keep:
	default:
		return fmt.Errorf("pop3 policy %q: %w", policy, store.ErrInvalidName)
	}
	return s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET pop3_policy = $1 WHERE address = $2`, policy)
}

// SetDisabled implements store.Store. Disabling is recorded in the
// revocation feed by the schema's trigger, so that every node ends the
// account's sessions.
func (s *Store) SetDisabled(ctx context.Context, address string, disabled bool) error {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	return s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET disabled = $1 WHERE address = $2`, disabled)
}

// updateAccount runs one UPDATE of the account row; the address is the last
// argument. ErrNotFound if there is no such account.
func (s *Store) updateAccount(ctx context.Context, addr, q string, args ...any) error {
	defer s.directoryChanged()
	args = append(args, addr)
	return s.write(ctx, func(ctx context.Context, t *tx) error {
		tag, err := t.Exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("update account %s: %w", addr, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("account %s: %w", addr, store.ErrNotFound)
		}
		return nil
	})
}

const accountCols = `id, address, domain, password, scram, quota_bytes, quota_messages,
	used_bytes, used_messages, pop3_policy, modseq, created, disabled`

func scanAccount(row pgx.Row) (*store.Account, error) {
	var a store.Account
	var created, modseq int64
	err := row.Scan(&a.ID, &a.Address, &a.Domain, &a.PasswordHash, &a.SCRAM, &a.QuotaBytes, &a.QuotaMessages,
		&a.UsedBytes, &a.UsedMessages, &a.POP3Policy, &modseq, &created, &a.Disabled)
	if err != nil {
		return nil, err
	}
	a.ModSeq = uint64(modseq)
	a.Created = fromUnix(created)
	return &a, nil
}

// Account implements store.Store.
func (s *Store) Account(ctx context.Context, address string) (*store.Account, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", address, store.ErrNotFound)
	}
	addr := local + "@" + domain
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE address = $1`, addr))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("account %s: %w", addr, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", addr, err)
	}
	return a, nil
}

// AccountByID implements store.Store.
func (s *Store) AccountByID(ctx context.Context, id int64) (*store.Account, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("account %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("account %d: %w", id, err)
	}
	return a, nil
}

// Accounts implements store.Store.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY address COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// LoginAccount implements store.Store. A user name without a domain is taken
// in the oldest domain, as Dovecot does with auth_default_realm: mail clients
// ask for a "user name", and people type the part before the @. It reads the
// database, never a cache (Authenticate depends on it).
func (s *Store) LoginAccount(ctx context.Context, user string) (*store.Account, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	if user != "" && !strings.Contains(user, "@") {
		var d string
		err := s.pool.QueryRow(ctx, `SELECT name FROM domains ORDER BY created, name COLLATE "C" LIMIT 1`).Scan(&d)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("account %s: %w", user, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("login domain: %w", err)
		}
		user += "@" + d
	}
	a, err := s.Account(ctx, user)
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		return nil, fmt.Errorf("account %s is disabled: %w", a.Address, store.ErrNotFound)
	}
	return a, nil
}

// Authenticate implements store.Store through the core's store.AuthCache. The
// account row is read from the database at every login (LoginAccount), and
// the cache key covers its password hash: a password changed, an account
// deleted (or created again) or disabled on any node takes effect on this
// node at once, not after the cache's TTL.
func (s *Store) Authenticate(ctx context.Context, user, pw string) (*store.Account, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	return s.auth.Authenticate(ctx, s.LoginAccount, user, pw, s.fastPw)
}
