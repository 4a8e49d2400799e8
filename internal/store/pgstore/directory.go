package pgstore

import (
	"context"
	"fmt"
	"time"

	"gannet/internal/store"
)

// directory gives the core's store.Resolver the narrow queries it needs. It
// reads the database directly; the Resolver does the caching.
//
// Staleness across nodes: every directory write through this Store (domains,
// accounts, aliases) calls directoryChanged after its commit: this node's
// caches are dropped at once, and the other nodes' as soon as they hear the
// NOTIFY on directoryChannel (milliseconds; feed.go). Should that
// notification be lost (a node dying between its commit and the NOTIFY, a
// feed connection down), a change is still seen within store.DomainTTL
// (local domains) and store.ResolveTTL (cached resolutions), one second
// each: the bound sqlstore gives for another process on the same SQLite file
// (`gannet alias rm` beside a running server). Quota usage is never stale:
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

// directoryChannel carries "the directory changed" between nodes; the
// payload is the writing Store's instance, so that it skips its own.
const directoryChannel = "gannet_directory"

// directoryChanged drops this node's directory caches and tells the other
// nodes to drop theirs. Called after the write committed; a failed NOTIFY
// leaves the others to their one-second TTLs.
func (s *Store) directoryChanged() {
	s.dir.Invalidate()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, $2)", directoryChannel, s.instance); err != nil && !s.closed.Load() {
		s.log.Warn("directory change not announced to the other nodes", "err", err)
	}
}
