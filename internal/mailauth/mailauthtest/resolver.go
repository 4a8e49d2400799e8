// Package mailauthtest provides an in-memory DNS for testing code that uses
// mailauth: zones of TXT, MX, A/AAAA and PTR records, with names that can be
// made to fail temporarily, so tests can tell NXDOMAIN (SPF none, no DMARC
// policy) from SERVFAIL (temperror).
//
// A Resolver is safe for concurrent use; records may be added while checks
// run.
package mailauthtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"gannet/internal/mailauth"
)

// ErrServFail is the temporary failure returned for names marked with Fail.
var ErrServFail = errors.New("mailauthtest: SERVFAIL")

// Resolver is an in-memory mailauth.Resolver and mailauth.AddrResolver.
// Names are matched case-insensitively, with or without a trailing dot.
// A name with no record of the asked type answers mailauth.ErrNotFound
// (NXDOMAIN or NODATA alike). The zero value is empty and ready.
type Resolver struct {
	mu      sync.Mutex
	txt     map[string][]string
	mx      map[string][]*net.MX
	ip      map[string][]netip.Addr
	ptr     map[netip.Addr][]string
	fail    map[string]bool
	queries []string
}

var (
	_ mailauth.Resolver     = (*Resolver)(nil)
	_ mailauth.AddrResolver = (*Resolver)(nil)
)

func canonical(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// AddTXT adds one TXT record per text (each already the joined strings).
func (r *Resolver) AddTXT(name string, texts ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.txt == nil {
		r.txt = map[string][]string{}
	}
	n := canonical(name)
	r.txt[n] = append(r.txt[n], texts...)
}

// AddMX adds an MX record.
func (r *Resolver) AddMX(domain, host string, pref uint16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mx == nil {
		r.mx = map[string][]*net.MX{}
	}
	d := canonical(domain)
	r.mx[d] = append(r.mx[d], &net.MX{Host: canonical(host) + ".", Pref: pref})
}

// AddIP adds A or AAAA records (by each address's family) for host. It
// panics on a malformed address, a bug in the test.
func (r *Resolver) AddIP(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ip == nil {
		r.ip = map[string][]netip.Addr{}
	}
	h := canonical(host)
	for _, a := range addrs {
		r.ip[h] = append(r.ip[h], netip.MustParseAddr(a))
	}
}

// AddPTR adds a PTR record addr → host.
func (r *Resolver) AddPTR(addr, host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		r.ptr = map[netip.Addr][]string{}
	}
	a := netip.MustParseAddr(addr)
	r.ptr[a] = append(r.ptr[a], canonical(host)+".")
}

// Fail makes every lookup of name fail with ErrServFail, a temporary error.
func (r *Resolver) Fail(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail == nil {
		r.fail = map[string]bool{}
	}
	r.fail[canonical(name)] = true
}

// Queries returns the queries answered so far, as "TYPE name", in order.
func (r *Resolver) Queries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.queries...)
}

// begin records a query and reports the error to return, if any.
func (r *Resolver) begin(ctx context.Context, typ, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.queries = append(r.queries, typ+" "+name)
	if r.fail[name] {
		return fmt.Errorf("lookup %s %s: %w", typ, name, ErrServFail)
	}
	return nil
}

func notFound(typ, name string) error {
	return fmt.Errorf("lookup %s %s: %w", typ, name, mailauth.ErrNotFound)
}

// LookupTXT implements mailauth.Resolver.
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := canonical(name)
	if err := r.begin(ctx, "TXT", n); err != nil {
		return nil, err
	}
	if len(r.txt[n]) == 0 {
		return nil, notFound("TXT", n)
	}
	return append([]string(nil), r.txt[n]...), nil
}

// LookupMX implements mailauth.Resolver.
func (r *Resolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := canonical(name)
	if err := r.begin(ctx, "MX", n); err != nil {
		return nil, err
	}
	if len(r.mx[n]) == 0 {
		return nil, notFound("MX", n)
	}
	out := make([]*net.MX, len(r.mx[n]))
	for i, m := range r.mx[n] {
		c := *m
		out[i] = &c
	}
	return out, nil
}

// LookupIP implements mailauth.Resolver.
func (r *Resolver) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := canonical(host)
	if err := r.begin(ctx, "IP", h); err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, a := range r.ip[h] {
		if network == "ip" || network == "ip4" && a.Is4() || network == "ip6" && a.Is6() {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, notFound("IP", h)
	}
	return out, nil
}

// LookupAddr implements mailauth.AddrResolver.
func (r *Resolver) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(ctx, "PTR", addr.String()); err != nil {
		return nil, err
	}
	if len(r.ptr[addr]) == 0 {
		return nil, notFound("PTR", addr.String())
	}
	return append([]string(nil), r.ptr[addr]...), nil
}
