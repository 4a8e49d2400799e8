package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gannet/internal/mailauth"
	"gannet/internal/store"
)

// AddDomain adds a mail domain together with its DKIM signing keys, one Ed25519
// (RFC 8463) and one RSA-2048, so that mail from it can be signed at once and
// `gannet domain dns` can print the records to publish.
func AddDomain(ctx context.Context, st store.Store, name string, now time.Time) error {
	if err := st.AddDomain(ctx, name); err != nil {
		return err
	}
	return EnsureDKIMKeys(ctx, st, name, now)
}

// EnsureDKIMKeys generates the domain's keys unless it has some already.
func EnsureDKIMKeys(ctx context.Context, st store.Store, domain string, now time.Time) error {
	have, err := st.DKIMKeys(ctx, domain)
	if err != nil {
		return err
	}
	if len(have) > 0 {
		return nil
	}
	keys, err := mailauth.GenerateKeys(now)
	if err != nil {
		return fmt.Errorf("dkim keys for %s: %w", domain, err)
	}
	for _, k := range keys {
		pem, err := mailauth.MarshalKey(k.Signer)
		if err != nil {
			return fmt.Errorf("dkim keys for %s: %w", domain, err)
		}
		err = st.AddDKIMKey(ctx, store.DKIMKey{Domain: domain, Selector: k.Selector, Algorithm: string(k.Algorithm()), PEM: pem, Created: now})
		if err != nil && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return nil
}

// DKIMKeys loads a domain's signing keys.
func DKIMKeys(ctx context.Context, st store.Store, domain string) ([]mailauth.Key, error) {
	stored, err := st.DKIMKeys(ctx, domain)
	if err != nil {
		return nil, err
	}
	keys := make([]mailauth.Key, 0, len(stored))
	for _, k := range stored {
		signer, err := mailauth.ParseKey(k.PEM)
		if err != nil {
			return nil, fmt.Errorf("dkim key %s of %s: %w", k.Selector, domain, err)
		}
		keys = append(keys, mailauth.Key{Selector: k.Selector, Signer: signer})
	}
	return keys, nil
}

// DNSRecords lists every record to publish for a domain served by host: MX,
// SPF, both DKIM keys, DMARC, MTA-STS, TLS-RPT and the SRV records of RFC 6186.
func DNSRecords(ctx context.Context, st store.Store, domain, host string) ([]mailauth.Record, error) {
	ok, err := st.IsLocalDomain(ctx, domain)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("domain %s: %w", domain, store.ErrNotFound)
	}
	c, err := DomainDNS(ctx, st, domain, host)
	if err != nil {
		return nil, err
	}
	return mailauth.DNSRecords(c)
}

// DomainDNS is the description of a domain's DNS, its DKIM keys included,
// that DNSRecords prints and `gannet doctor` checks the live DNS against.
func DomainDNS(ctx context.Context, st store.Store, domain, host string) (mailauth.DNSConfig, error) {
	keys, err := DKIMKeys(ctx, st, domain)
	if err != nil {
		return mailauth.DNSConfig{}, err
	}
	c := dnsConfig(domain, host)
	c.Keys = keys
	return c, nil
}

// dnsConfig describes a domain's DNS both for `gannet domain dns` and for
// what the server serves itself (the MTA-STS policy, autoconfig.go), so that
// the _mta-sts id printed is the digest of the policy served (RFC 8461 3.1).
func dnsConfig(domain, host string) mailauth.DNSConfig {
	return mailauth.DNSConfig{Domain: domain, Host: host}
}
