package app

import (
	"context"
	"fmt"
	"sync"

	"gannet/internal/mailauth"
	"gannet/internal/store"
)

// dkimSigners signs outgoing mail with the sending domain's keys, caching one
// mailauth.Signer per domain (parsing PEM keys on every message would cost more
// than the signature).
type dkimSigners struct {
	st store.Store
	mu sync.Mutex
	by map[string]*mailauth.Signer
}

func newDKIMSigners(st store.Store) *dkimSigners {
	return &dkimSigners{st: st, by: map[string]*mailauth.Signer{}}
}

// Sign signs msg for domain with every key the domain has. A domain without
// keys (not one of ours) is left unsigned.
func (d *dkimSigners) Sign(ctx context.Context, domain string, msg []byte) ([]byte, error) {
	d.mu.Lock()
	s, ok := d.by[domain]
	d.mu.Unlock()
	if !ok {
		keys, err := DKIMKeys(ctx, d.st, domain)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			// Not cached: keys added later (gannet domain add) are picked up.
			return msg, nil
		}
		if s, err = mailauth.NewSigner(domain, keys...); err != nil {
			return nil, fmt.Errorf("dkim signer for %s: %w", domain, err)
		}
		d.mu.Lock()
		d.by[domain] = s
		d.mu.Unlock()
	}
	return s.Sign(msg)
}
