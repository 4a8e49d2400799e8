package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// domainTTL bounds how long a domain added or removed by another process (the
// `gannet domain` command on the same database, another node) can go unseen.
// Changes made through this Store invalidate the cache at once.
const domainTTL = time.Second

// domainCache keeps the set of local domains in memory: every RCPT asks whether
// a domain is ours, once for the relay decision and again while resolving
// aliases, and those two queries were a seventh of the MX's CPU under load.
type domainCache struct {
	mu     sync.Mutex
	set    map[string]bool
	loaded time.Time
}

// invalidate forgets the set; call after COMMIT of a change to domains.
func (c *domainCache) invalidate() {
	c.mu.Lock()
	c.set = nil
	c.mu.Unlock()
}

// hasDomain reports whether d (normalised) is a local domain, reloading the set when it
// is older than domainTTL. Concurrent callers during a reload wait for it rather
// than all querying.
func (s *Store) hasDomain(ctx context.Context, d string) (bool, error) {
	c := &s.domains
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.set == nil || now.Sub(c.loaded) > domainTTL || now.Before(c.loaded) {
		rows, err := s.r.QueryContext(ctx, `SELECT name FROM domains`)
		if err != nil {
			return false, fmt.Errorf("load domains: %w", err)
		}
		set := map[string]bool{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return false, fmt.Errorf("load domains: %w", err)
			}
			set[n] = true
		}
		if err := rows.Close(); err != nil {
			return false, fmt.Errorf("load domains: %w", err)
		}
		c.set, c.loaded = set, now
	}
	return c.set[d], nil
}
