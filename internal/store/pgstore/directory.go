package pgstore

import (
	"context"
	"fmt"

	"gannet/internal/store"
)

// directory gives the core's store.Resolver the narrow queries it needs. It
// reads the database directly; the Resolver does the caching.
//
// Staleness across nodes: every directory write through this Store (domains,
// accounts, aliases) calls s.dir.Invalidate after its commit, so this node
// sees its own changes at once. A change committed by another node is seen
// here within store.DomainTTL (local domains) and store.ResolveTTL (cached
// resolutions), one second each: exactly the bound sqlstore gives for another
// process on the same SQLite file (`gannet alias rm` beside a running
// server). A deleted alias or domain can thus receive mail on another node
// for at most a second after the delete returns. Quota usage is never stale:
// the Resolver re-reads the accounts of a cached answer that have a quota.
type directory struct{ s *Store }

var _ store.Directory = directory{}

// LocalDomains implements store.Directory.
func (d directory) LocalDomains(ctx context.Context) ([]string, error) {
	rows, err := d.s.pool.Query(ctx, `SELECT name FROM domains`)
	if err != nil {
		return nil, fmt.Errorf("select domains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("select domains: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Account implements store.Directory.
func (d directory) Account(ctx context.Context, address string) (*store.Account, error) {
	return d.s.Account(ctx, address)
}

// AccountByID implements store.Directory.
func (d directory) AccountByID(ctx context.Context, id int64) (*store.Account, error) {
	return d.s.AccountByID(ctx, id)
}

// AliasTargets implements store.Directory.
func (d directory) AliasTargets(ctx context.Context, addr string) ([]string, error) {
	rows, err := d.s.pool.Query(ctx, `SELECT target FROM aliases WHERE address = $1 ORDER BY target`, addr)
	if err != nil {
		return nil, fmt.Errorf("alias %s: %w", addr, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("alias %s: %w", addr, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
