package mailauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrNotFound is the error a Resolver wraps to say a name or record type does
// not exist (NXDOMAIN or NODATA): a definitive answer, as opposed to a
// temporary failure. Resolvers with their own sentinel are adapted with
// Options.IsNotFound instead.
var ErrNotFound = errors.New("mailauth: no such DNS record")

// Resolver is the DNS as mail authentication needs it. Its method set is the
// one internal/dnsx uses, so a resolver written for the queue fits here too.
// Implementations must be safe for concurrent use.
type Resolver interface {
	// LookupTXT returns the TXT records of name, the strings of each record
	// joined into one (RFC 7208 3.3, RFC 6376 3.6.2.2).
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupMX returns the MX records of name, in no particular order.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupIP returns the addresses of host; network is "ip", "ip4" or "ip6".
	LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// AddrResolver is implemented by resolvers that can also answer PTR queries.
// Only the SPF "ptr" mechanism (RFC 7208 5.5, whose use is discouraged)
// needs it; without it, ptr never matches, as if no PTR record existed.
type AddrResolver interface {
	// LookupAddr returns the names (PTR records) of addr.
	LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error)
}

// NetResolver adapts a net.Resolver to Resolver and AddrResolver, mapping
// Go's not-found DNS errors to ErrNotFound.
type NetResolver struct {
	R *net.Resolver // nil means net.DefaultResolver
}

var (
	_ Resolver     = NetResolver{}
	_ AddrResolver = NetResolver{}
)

func (n NetResolver) r() *net.Resolver {
	if n.R == nil {
		return net.DefaultResolver
	}
	return n.R
}

// LookupTXT implements Resolver.
func (n NetResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := n.r().LookupTXT(ctx, name)
	if err != nil {
		return nil, netErr("TXT", name, err)
	}
	return txts, nil
}

// LookupMX implements Resolver.
func (n NetResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := n.r().LookupMX(ctx, name)
	if err != nil && len(mxs) == 0 {
		// Go returns the well-formed records with an error when some were
		// malformed; those records are still an answer.
		return nil, netErr("MX", name, err)
	}
	return mxs, nil
}

// LookupIP implements Resolver.
func (n NetResolver) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := n.r().LookupNetIP(ctx, network, host)
	if err != nil {
		return nil, netErr("IP", host, err)
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// LookupAddr implements AddrResolver.
func (n NetResolver) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	names, err := n.r().LookupAddr(ctx, addr.String())
	if err != nil && len(names) == 0 {
		return nil, netErr("PTR", addr.String(), err)
	}
	return names, nil
}

func netErr(kind, name string, err error) error {
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return fmt.Errorf("lookup %s %s: %w (%v)", kind, name, ErrNotFound, err)
	}
	return fmt.Errorf("lookup %s %s: %w", kind, name, err)
}

// defaultIsNotFound is the classification used when Options.IsNotFound is
// nil: our sentinel, or a net.DNSError that says so.
func defaultIsNotFound(err error) bool {
	if errors.Is(err, ErrNotFound) {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// dns couples a Resolver with its error classification, and translates
// answers for the two libraries we drive. Both libraries inspect errors by
// type assertion on *net.DNSError (not errors.As), so the translated errors
// are bare *net.DNSError values carrying the original text.
type dns struct {
	r          Resolver
	isNotFound func(error) bool
}

// dnsError converts a resolver error into what the libraries understand:
// IsNotFound for NXDOMAIN/NODATA, IsTemporary for everything else.
func (d dns) dnsError(name string, err error) *net.DNSError {
	if d.isNotFound(err) {
		return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
}

// spfResolver satisfies blitiri.com.ar/go/spf's DNSResolver.
type spfResolver struct{ dns }

func (s spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := s.r.LookupTXT(ctx, name)
	if err != nil {
		return nil, s.dnsError(name, err)
	}
	return txts, nil
}

func (s spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := s.r.LookupMX(ctx, name)
	if err != nil {
		return nil, s.dnsError(name, err)
	}
	return mxs, nil
}

func (s spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	addrs, err := s.r.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, s.dnsError(host, err)
	}
	out := make([]net.IPAddr, len(addrs))
	for i, a := range addrs {
		out[i] = net.IPAddr{IP: net.IP(a.Unmap().AsSlice())}
	}
	return out, nil
}

func (s spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	ar, ok := s.r.(AddrResolver)
	if !ok {
		return nil, &net.DNSError{Err: "PTR lookups not supported", Name: addr, IsNotFound: true}
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr, IsNotFound: true}
	}
	names, err := ar.LookupAddr(ctx, a)
	if err != nil {
		return nil, s.dnsError(addr, err)
	}
	return names, nil
}

// dkimLookup returns the LookupTXT function go-msgauth's dkim.VerifyOptions
// takes; it has no context parameter, so ctx is bound here. go-msgauth
// treats a temporary net.Error as a temporary failure and any other error as
// a permanent one (RFC 6376 6.1.2).
func (d dns) dkimLookup(ctx context.Context) func(string) ([]string, error) {
	return func(name string) ([]string, error) {
		txts, err := d.r.LookupTXT(ctx, name)
		if err != nil {
			return nil, d.dnsError(name, err)
		}
		return txts, nil
	}
}
