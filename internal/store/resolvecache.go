package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ResolveTTL bounds how long a change made by another process (the `gannet user`
// and `gannet alias` commands on the same database, another node) can go unseen
// by Resolve. Changes made through the same Resolver invalidate the cache at once.
const ResolveTTL = time.Second

// maxResolveEntries bounds the cache: a flood of RCPTs to random addresses
// (a dictionary attack) cannot grow it without limit.
const maxResolveEntries = 10000

// resolveCache remembers recent Resolve answers, positive and negative. Every
// RCPT resolves its address (account, aliases, catch-all, +tag: up to five
// queries); under load those queries, each starting a read transaction that
// revalidates SQLite's page cache after the writer's commits, were a tenth of
// the MX's CPU. Account usage changes with every delivery, so an answer
// served from the cache has the usage of quota-limited accounts read again.
type resolveCache struct {
	mu  sync.Mutex
	gen uint64 // bumped by invalidate; an answer computed under an older gen is not stored
	m   map[string]resolveEntry
}

type resolveEntry struct {
	res *Resolution // nil: no such address
	at  time.Time
}

func (c *resolveCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.m = nil
	c.mu.Unlock()
}

// get is Resolve through the cache; key is the normalised address.
func (c *resolveCache) get(ctx context.Context, dir Directory, key string, compute func() (*Resolution, error)) (*Resolution, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.Unlock()
	if ok && now.Sub(e.at) <= ResolveTTL && !now.Before(e.at) {
		if e.res == nil {
			return nil, ErrNotFound
		}
		return freshUsage(ctx, dir, e.res)
	}
	res, err := compute()
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if c.m == nil || len(c.m) >= maxResolveEntries {
			c.m = map[string]resolveEntry{}
		}
		c.m[key] = resolveEntry{res: res, at: now}
	}
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return copyResolution(res), nil
}

// freshUsage returns a copy of a cached resolution in which every account with
// a quota has its current usage (the RCPT-time quota check needs it).
func freshUsage(ctx context.Context, dir Directory, res *Resolution) (*Resolution, error) {
	out := copyResolution(res)
	for i := range out.Local {
		a := &out.Local[i]
		if a.QuotaBytes == 0 && a.QuotaMessages == 0 {
			continue
		}
		fresh, err := dir.AccountByID(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		*a = *fresh
	}
	return out, nil
}

func copyResolution(r *Resolution) *Resolution {
	return &Resolution{
		Local:  append([]Account(nil), r.Local...),
		Remote: append([]string(nil), r.Remote...),
	}
}
