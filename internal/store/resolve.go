package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Directory is what a Resolver reads from a backend: the narrow, uncached
// primitives. Each reads the database as it is now (the Resolver does the
// caching).
type Directory interface {
	// LocalDomains lists every local domain, normalised (NormDomain).
	LocalDomains(ctx context.Context) ([]string, error)
	// Account returns the account with a normalised address; ErrNotFound if
	// there is none (disabled accounts are found: they still receive mail).
	Account(ctx context.Context, address string) (*Account, error)
	// AccountByID is Store.AccountByID.
	AccountByID(ctx context.Context, id int64) (*Account, error)
	// AliasTargets lists the targets of an alias address (local@domain, or
	// "@domain" for the catch-all), sorted; none if it is no alias.
	AliasTargets(ctx context.Context, address string) ([]string, error)
}

// MaxAliasDepth bounds alias expansion (aliases of aliases, and loops).
const MaxAliasDepth = 8

// Resolver is the engine-neutral Store.Resolve and Store.IsLocalDomain over
// a backend's Directory, with the caches every RCPT goes through: the local
// domains (domaincache.go) and recent resolutions (resolvecache.go). A
// backend keeps one (NewResolver) and calls Invalidate after committing any
// change to domains, accounts or aliases.
type Resolver struct {
	dir      Directory
	domains  domainCache
	resolved resolveCache
}

// NewResolver returns a Resolver reading dir.
func NewResolver(dir Directory) *Resolver { return &Resolver{dir: dir} }

// Invalidate forgets every cached domain and resolution; call after a change
// to domains, accounts or aliases has committed. Changes by other processes
// are seen within DomainTTL and ResolveTTL.
func (r *Resolver) Invalidate() {
	r.domains.invalidate()
	r.resolved.invalidate()
}

// IsLocalDomain is Store.IsLocalDomain: whether name is one of our domains;
// an invalid name is not (no error).
func (r *Resolver) IsLocalDomain(ctx context.Context, name string) (bool, error) {
	d, err := NormDomain(name)
	if err != nil {
		return false, nil
	}
	return r.domains.has(ctx, r.dir, d)
}

// Resolve is Store.Resolve: it maps a recipient address to accounts and
// remote addresses. Each address, the recipient and every alias target in
// turn, resolves as: a non-local domain is a remote address (targets only);
// then the exact account; then the alias; then, for user+tag@domain, the
// same for user@domain (RFC 5233 subaddressing); then the domain's catch-all
// "@domain". Targets are expanded to MaxAliasDepth; an address met twice is
// expanded once (loops end). Accounts and remote addresses are deduplicated.
// ErrNotFound when nothing matches.
func (r *Resolver) Resolve(ctx context.Context, address string) (*Resolution, error) {
	local, domain, err := NormAddress(address)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", address, ErrNotFound)
	}
	key := local + "@" + domain
	res, err := r.resolved.get(ctx, r.dir, key, func() (*Resolution, error) {
		res := &Resolution{}
		seen := map[string]bool{}
		found, err := r.resolve(ctx, key, 0, res, seen)
		if err != nil {
			return nil, err
		}
		if !found || (len(res.Local) == 0 && len(res.Remote) == 0) {
			return nil, ErrNotFound
		}
		return res, nil
	})
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", key, err)
	}
	return res, nil
}

func (r *Resolver) resolve(ctx context.Context, addr string, depth int, res *Resolution, seen map[string]bool) (bool, error) {
	if depth > MaxAliasDepth || seen[addr] {
		return seen[addr], nil
	}
	seen[addr] = true
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:at], addr[at+1:]
	local0, hasTag := local, false
	if i := strings.IndexByte(local, '+'); i > 0 {
		local0, hasTag = local[:i], true
	}
	if ok, err := r.domains.has(ctx, r.dir, domain); err != nil || !ok {
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
		a, err := r.dir.Account(ctx, c)
		if err == nil {
			for _, l := range res.Local {
				if l.ID == a.ID {
					return true, nil
				}
			}
			res.Local = append(res.Local, *a)
			return true, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return false, err
		}
		targets, err := r.dir.AliasTargets(ctx, c)
		if err != nil {
			return false, err
		}
		if len(targets) > 0 {
			return true, r.expand(ctx, targets, depth, res, seen)
		}
	}
	targets, err := r.dir.AliasTargets(ctx, "@"+domain)
	if err != nil {
		return false, err
	}
	if len(targets) > 0 {
		return true, r.expand(ctx, targets, depth, res, seen)
	}
	return false, nil
}

func (r *Resolver) expand(ctx context.Context, targets []string, depth int, res *Resolution, seen map[string]bool) error {
	for _, t := range targets {
		if _, err := r.resolve(ctx, t, depth+1, res, seen); err != nil {
			return err
		}
	}
	return nil
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
