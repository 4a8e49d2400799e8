package store

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DomainTTL bounds how long a domain added or removed by another process (the
// `gannet domain` command on the same database, another node) can go unseen.
// Changes made through the same Resolver invalidate the cache at once.
const DomainTTL = time.Second

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

// has reports whether d (normalised) is a local domain, reloading the set when
// it is older than DomainTTL. Concurrent callers during a reload wait for it
// rather than all querying.
func (c *domainCache) has(ctx context.Context, dir Directory, d string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if c.set == nil || now.Sub(c.loaded) > DomainTTL || now.Before(c.loaded) {
		names, err := dir.LocalDomains(ctx)
		if err != nil {
			return false, fmt.Errorf("load domains: %w", err)
		}
		set := make(map[string]bool, len(names))
		for _, n := range names {
			set[n] = true
		}
		c.set, c.loaded = set, now
	}
	return c.set[d], nil
}
