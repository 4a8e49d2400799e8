// Package dnsx is Gannet's view of the DNS: a Resolver interface that the queue
// (MX lookup, RFC 5321 5.1) and later mail authentication (SPF, DKIM, DMARC, TLSA)
// depend on, an implementation over net.Resolver (Net), one that asks a DNS
// server directly and also answers PTR and SRV (Client, for `gannet doctor`),
// and a Fake for tests; dnstest is a DNS server on loopback for tests.
//
// Invariants:
//   - Every error says whether it is definitive: errors.Is(err, ErrNotFound)
//     means the name or the record type does not exist (NXDOMAIN or NODATA), a
//     permanent answer; any other error is temporary (SERVFAIL, timeout) and the
//     caller retries later. Mail must never bounce on a temporary DNS failure.
//   - Names are passed as given; callers convert IDNs to A-labels first.
//   - The package holds no mutable state; a Fake is safe for concurrent use.
package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// ErrNotFound reports that the name or the record type does not exist.
var ErrNotFound = errors.New("dns: no such record")

// Resolver looks up the records mail delivery needs. Implementations must be
// safe for concurrent use.
type Resolver interface {
	// LookupMX returns the MX records of domain, in no particular order. A null
	// MX (RFC 7505) comes back as one record with Host ".".
	LookupMX(ctx context.Context, domain string) ([]*net.MX, error)
	// LookupIP returns the addresses of host; network is "ip", "ip4" or "ip6".
	LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	// LookupTXT returns the TXT records of name, each record's strings joined.
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Net is a Resolver over net.Resolver (the system's stub resolver, or Go's).
type Net struct {
	R *net.Resolver // nil means net.DefaultResolver
}

var _ Resolver = Net{}

func (n Net) r() *net.Resolver {
	if n.R == nil {
		return net.DefaultResolver
	}
	return n.R
}

// LookupMX implements Resolver.
func (n Net) LookupMX(ctx context.Context, domain string) ([]*net.MX, error) {
	mxs, err := n.r().LookupMX(ctx, domain)
	if err != nil {
		// Go filters out malformed exchange names but keeps a null MX's "."; when
		// all records were malformed it returns them with an error: treat that
		// answer as unusable but definitive only if nothing was returned.
		if len(mxs) > 0 {
			return mxs, nil
		}
		return nil, wrap("MX", domain, err)
	}
	if len(mxs) == 0 {
		return nil, fmt.Errorf("lookup MX %s: %w", domain, ErrNotFound)
	}
	return mxs, nil
}

// LookupIP implements Resolver.
func (n Net) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := n.r().LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, wrap("IP", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("lookup IP %s: %w", host, ErrNotFound)
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = a.Unmap()
	}
	return out, nil
}

// LookupTXT implements Resolver.
func (n Net) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := n.r().LookupTXT(ctx, name)
	if err != nil {
		return nil, wrap("TXT", name, err)
	}
	return txts, nil
}

// wrap turns a net.DNSError into our two classes: ErrNotFound for NXDOMAIN or
// NODATA (Go reports both as IsNotFound), everything else temporary.
func wrap(kind, name string, err error) error {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return fmt.Errorf("lookup %s %s: %w", kind, name, ErrNotFound)
	}
	return fmt.Errorf("lookup %s %s: %w", kind, name, err)
}

// IsNullMX reports whether mxs is a null MX (RFC 7505 3: a single record whose
// exchange is "."), which says the domain accepts no mail.
func IsNullMX(mxs []*net.MX) bool {
	return len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "")
}

// Canonical lower-cases name and strips one trailing dot, the form the Fake
// keys its records by and the form callers compare host names in.
func Canonical(name string) string {
	if name == "." {
		return name
	}
	return strings.ToLower(strings.TrimSuffix(name, "."))
}
