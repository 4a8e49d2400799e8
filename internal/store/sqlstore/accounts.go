package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gannet/internal/password"
	"gannet/internal/store"
)

// AddDomain implements store.Store.
func (s *Store) AddDomain(ctx context.Context, name string) error {
	d, err := store.NormDomain(name)
	if err != nil {
		return err
	}
	defer s.invalidateDirectory()
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO domains(name, created) VALUES(?, ?) ON CONFLICT DO NOTHING`, d, unix(s.now()))
		if err != nil {
			return fmt.Errorf("add domain %s: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("domain %s: %w", d, store.ErrExists)
		}
		return nil
	})
}

// DeleteDomain implements store.Store. A domain with accounts cannot be deleted.
func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	d, err := store.NormDomain(name)
	if err != nil {
		return err
	}
	defer s.invalidateDirectory()
	return s.w.doAlone(ctx, func(ctx context.Context, tx *wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE domain = ?`, d).Scan(&n); err != nil {
			return fmt.Errorf("delete domain %s: %w", d, err)
		}
		if n > 0 {
			return fmt.Errorf("domain %s has %d accounts: %w", d, n, store.ErrNotPermitted)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM domains WHERE name = ?`, d)
		if err != nil {
			return fmt.Errorf("delete domain %s: %w", d, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("domain %s: %w", d, store.ErrNotFound)
		}
		// Aliases of the domain (including its catch-all) go with it.
		_, err = tx.ExecContext(ctx, `DELETE FROM aliases WHERE address LIKE '%@' || ?`, d)
		return err
	})
}

// Domains implements store.Store.
func (s *Store) Domains(ctx context.Context) ([]store.Domain, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT name, created FROM domains ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	defer rows.Close()
	var out []store.Domain
	for rows.Next() {
		var d store.Domain
		var created int64
		if err := rows.Scan(&d.Name, &created); err != nil {
			return nil, err
		}
		d.Created = fromUnix(created)
		out = append(out, d)
	}
	return out, rows.Err()
}

// IsLocalDomain implements store.Store.
func (s *Store) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	if err := s.alive(); err != nil {
		return false, err
	}
	d, err := store.NormDomain(name)
	if err != nil {
		return false, nil
	}
	return s.hasDomain(ctx, d)
}

func (s *Store) domainExists(ctx context.Context, q querier, d string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM domains WHERE name = ?`, d).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up domain %s: %w", d, err)
	}
	return true, nil
}

func (s *Store) hashPassword(pw string) (hash string, scram []byte, err error) {
	if pw == "" {
		return "", nil, fmt.Errorf("empty password: %w", store.ErrInvalidName)
	}
	p := password.DefaultParams()
	if s.fastPw {
		p = password.TestParams()
	}
	hash, err = p.Hash(pw)
	if err != nil {
		return "", nil, err
	}
	keys, err := password.NewSCRAMKeys(pw)
	if err != nil {
		return "", nil, err
	}
	return hash, keys.Marshal(), nil
}

// AddAccount implements store.Store: the account with its default mailboxes.
func (s *Store) AddAccount(ctx context.Context, address, pw string) (*store.Account, error) {
	defer s.invalidateDirectory()
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return nil, err
	}
	addr := local + "@" + domain
	// Hash outside the writer: argon2id is deliberately slow.
	hash, scram, err := s.hashPassword(pw)
	if err != nil {
		return nil, err
	}
	err = s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		ok, err := s.domainExists(ctx, tx, domain)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("domain %s: %w", domain, store.ErrNotFound)
		}
		// The id is the high-water mark + 1, never max(id) + 1: ids are never
		// reused (migration 0006 and its triggers).
		res, err := tx.ExecContext(ctx, `INSERT INTO accounts(id, address, domain, password, scram, created)
			VALUES((SELECT value + 1 FROM meta WHERE key = 'last_account_id'), ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, addr, domain, hash, scram, unix(s.now()))
		if err != nil {
			return fmt.Errorf("add account %s: %w", addr, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("account %s: %w", addr, store.ErrExists)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		for _, mb := range store.DefaultMailboxes {
			if _, err := s.createMailbox(ctx, tx, id, mb.Name, mb.SpecialUse); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO subscriptions(account_id, name) VALUES(?, ?)`, id, mb.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Account(ctx, addr)
}

// DeleteAccount implements store.Store. Mailboxes and messages go with the account
// (foreign keys cascade); the blobs are collected by GC.
func (s *Store) DeleteAccount(ctx context.Context, address string) error {
	defer s.invalidateDirectory()
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	addr := local + "@" + domain
	defer s.auth.forget(addr)
	return s.w.doAlone(ctx, func(ctx context.Context, tx *wtx) error {
		var id int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE address = ?`, addr).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("account %s: %w", addr, store.ErrNotFound)
			}
			return err
		}
		for _, q := range []string{
			`DELETE FROM tombstones WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?)`,
			`DELETE FROM messages WHERE account_id = ?`,
			`DELETE FROM mailboxes WHERE account_id = ?`,
			`DELETE FROM subscriptions WHERE account_id = ?`,
			`DELETE FROM accounts WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return fmt.Errorf("delete account %s: %w", addr, err)
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM aliases WHERE target = ?`, addr)
		return err
	})
}

// SetPassword implements store.Store.
func (s *Store) SetPassword(ctx context.Context, address, pw string) error {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	hash, scram, err := s.hashPassword(pw)
	if err != nil {
		return err
	}
	err = s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET password = ?, scram = ? WHERE address = ?`, hash, scram)
	// After the commit: a login racing the change cannot leave the old
	// password cached.
	s.auth.forget(local + "@" + domain)
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
	return s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET quota_bytes = ?, quota_messages = ? WHERE address = ?`, bytes, messages)
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
	return s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET pop3_policy = ? WHERE address = ?`, policy)
}

// SetDisabled implements store.Store. Disabling is recorded in the
// revocation feed (a trigger of migration 0006), so that every process ends
// the account's sessions.
func (s *Store) SetDisabled(ctx context.Context, address string, disabled bool) error {
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return err
	}
	return s.updateAccount(ctx, local+"@"+domain, `UPDATE accounts SET disabled = ? WHERE address = ?`, disabled)
}

func (s *Store) updateAccount(ctx context.Context, addr, q string, args ...any) error {
	defer s.invalidateDirectory()
	args = append(args, addr)
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("update account %s: %w", addr, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("account %s: %w", addr, store.ErrNotFound)
		}
		return nil
	})
}

const accountCols = `id, address, domain, password, scram, quota_bytes, quota_messages,
	used_bytes, used_messages, pop3_policy, modseq, created, disabled`

func scanAccount(row interface{ Scan(...any) error }) (*store.Account, error) {
	var a store.Account
	var created int64
	err := row.Scan(&a.ID, &a.Address, &a.Domain, &a.PasswordHash, &a.SCRAM, &a.QuotaBytes, &a.QuotaMessages,
		&a.UsedBytes, &a.UsedMessages, &a.POP3Policy, &a.ModSeq, &created, &a.Disabled)
	if err != nil {
		return nil, err
	}
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
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE address = ?`, addr))
	if errors.Is(err, sql.ErrNoRows) {
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
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY address`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// dummyHash is verified against when the account does not exist, so that the
// time taken does not reveal which addresses exist.
const dummyHash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0dvKSAo0dZzmJ2iFahY4jYBB9GPHKZmLG7PzK6e2f1k"

// LoginAccount implements store.Store. A user name without a domain is taken in
// the oldest domain, as Dovecot does with auth_default_realm: mail clients ask
// for a "user name", and people type the part before the @.
func (s *Store) LoginAccount(ctx context.Context, user string) (*store.Account, error) {
	if user != "" && !strings.Contains(user, "@") {
		var d string
		err := s.r.QueryRowContext(ctx, `SELECT name FROM domains ORDER BY created, name LIMIT 1`).Scan(&d)
		if errors.Is(err, sql.ErrNoRows) {
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

// Authenticate implements store.Store. A recent successful login with the same
// password is answered from the auth cache (see authcache.go), but only while
// the account row read here, from the database and not from any cache of this
// process, still has the password hash the login was checked against: a
// password changed, an account deleted (and perhaps created again) or
// disabled by another process takes effect at once.
func (s *Store) Authenticate(ctx context.Context, user, pw string) (*store.Account, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	a, err := s.LoginAccount(ctx, user)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			if !s.fastPw {
				password.Verify(dummyHash, pw)
			}
			return nil, store.ErrAuthFailed
		}
		return nil, err
	}
	if s.auth.hit(a, pw) {
		return a, nil
	}
	ok, err := password.Verify(a.PasswordHash, pw)
	if err != nil || !ok {
		return nil, store.ErrAuthFailed
	}
	s.auth.add(a, pw)
	return a, nil
}

// AddAlias implements store.Store. Targets are normalised; "@domain" is a catch-all.
func (s *Store) AddAlias(ctx context.Context, address string, targets []string) error {
	defer s.invalidateDirectory()
	addr, domain, err := store.NormAliasAddress(address)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("alias %s: no targets: %w", addr, store.ErrInvalidName)
	}
	var norm []string
	for _, t := range targets {
		l, d, err := store.NormAddress(t)
		if err != nil {
			return err
		}
		norm = append(norm, l+"@"+d)
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		ok, err := s.domainExists(ctx, tx, domain)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("domain %s: %w", domain, store.ErrNotFound)
		}
		if !strings.HasPrefix(addr, "@") {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM accounts WHERE address = ?`, addr).Scan(&one)
			if err == nil {
				return fmt.Errorf("alias %s is an account: %w", addr, store.ErrExists)
			}
		}
		added := int64(0)
		for _, t := range norm {
			res, err := tx.ExecContext(ctx, `INSERT INTO aliases(address, target) VALUES(?, ?) ON CONFLICT DO NOTHING`, addr, t)
			if err != nil {
				return fmt.Errorf("add alias %s: %w", addr, err)
			}
			n, _ := res.RowsAffected()
			added += n
		}
		if added == 0 {
			return fmt.Errorf("alias %s: %w", addr, store.ErrExists)
		}
		return nil
	})
}

// DeleteAlias implements store.Store.
func (s *Store) DeleteAlias(ctx context.Context, address string) error {
	defer s.invalidateDirectory()
	addr, _, err := store.NormAliasAddress(address)
	if err != nil {
		return err
	}
	return s.w.do(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM aliases WHERE address = ?`, addr)
		if err != nil {
			return fmt.Errorf("delete alias %s: %w", addr, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("alias %s: %w", addr, store.ErrNotFound)
		}
		return nil
	})
}

// Aliases implements store.Store.
func (s *Store) Aliases(ctx context.Context) ([]store.Alias, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT address, target FROM aliases ORDER BY address, target`)
	if err != nil {
		return nil, fmt.Errorf("list aliases: %w", err)
	}
	defer rows.Close()
	var out []store.Alias
	for rows.Next() {
		var addr, target string
		if err := rows.Scan(&addr, &target); err != nil {
			return nil, err
		}
		if n := len(out); n > 0 && out[n-1].Address == addr {
			out[n-1].Targets = append(out[n-1].Targets, target)
		} else {
			out = append(out, store.Alias{Address: addr, Targets: []string{target}})
		}
	}
	return out, rows.Err()
}

// maxAliasDepth bounds alias expansion (aliases of aliases, and loops).
const maxAliasDepth = 8

// Resolve implements store.Store.
func (s *Store) Resolve(ctx context.Context, address string) (*store.Resolution, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	local, domain, err := store.NormAddress(address)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", address, store.ErrNotFound)
	}
	key := local + "@" + domain
	res, err := s.cachedResolve(ctx, key, func() (*store.Resolution, error) {
		res := &store.Resolution{}
		seen := map[string]bool{}
		found, err := s.resolve(ctx, key, 0, res, seen)
		if err != nil {
			return nil, err
		}
		if !found || (len(res.Local) == 0 && len(res.Remote) == 0) {
			return nil, store.ErrNotFound
		}
		return res, nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", key, err)
	}
	return res, nil
}

func (s *Store) resolve(ctx context.Context, addr string, depth int, res *store.Resolution, seen map[string]bool) (bool, error) {
	if depth > maxAliasDepth || seen[addr] {
		return seen[addr], nil
	}
	seen[addr] = true
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	local0, hasTag := local, false
	if i := strings.IndexByte(local, '+'); i > 0 {
		local0, hasTag = local[:i], true
	}
	if ok, err := s.hasDomain(ctx, domain); err != nil || !ok {
		if err == nil && depth > 0 {
			res.Remote = appendUnique(res.Remote, addr)
			return true, nil
		}
		return false, err
	}
	candidates := []string{addr}
	if hasTag {
		// RFC 5233 subaddressing: user+tag@domain delivers to user@domain.
		candidates = append(candidates, local0+"@"+domain)
	}
	for _, c := range candidates {
		a, err := s.Account(ctx, c)
		if err == nil {
			for _, l := range res.Local {
				if l.ID == a.ID {
					return true, nil
				}
			}
			res.Local = append(res.Local, *a)
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		targets, err := s.aliasTargets(ctx, c)
		if err != nil {
			return false, err
		}
		if len(targets) > 0 {
			return true, s.expand(ctx, targets, depth, res, seen)
		}
	}
	targets, err := s.aliasTargets(ctx, "@"+domain)
	if err != nil {
		return false, err
	}
	if len(targets) > 0 {
		return true, s.expand(ctx, targets, depth, res, seen)
	}
	return false, nil
}

func (s *Store) expand(ctx context.Context, targets []string, depth int, res *store.Resolution, seen map[string]bool) error {
	for _, t := range targets {
		if _, err := s.resolve(ctx, t, depth+1, res, seen); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) aliasTargets(ctx context.Context, addr string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT target FROM aliases WHERE address = ? ORDER BY target`, addr)
	if err != nil {
		return nil, fmt.Errorf("alias %s: %w", addr, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// Addresses implements store.Store: the account's address and the aliases that
// point directly at it (what it may use as a sender).
func (s *Store) Addresses(ctx context.Context, accountID int64) ([]string, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	a, err := s.AccountByID(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := []string{a.Address}
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT address FROM aliases WHERE target = ? AND address NOT LIKE '@%' ORDER BY address`, a.Address)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", a.Address, err)
	}
	defer rows.Close()
	for rows.Next() {
		var addr string
		if err := rows.Scan(&addr); err != nil {
			return nil, err
		}
		out = append(out, addr)
	}
	return out, rows.Err()
}
