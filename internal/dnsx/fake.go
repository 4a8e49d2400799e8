package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// ErrFakeTemporary is what a Fake returns for a name marked with Fail: a
// temporary failure such as SERVFAIL.
var ErrFakeTemporary = errors.New("dns: temporary failure (fake)")

// Fake is an in-memory Resolver for tests. Names are matched case-insensitively
// without a trailing dot. The zero value is empty and ready; it is safe for
// concurrent use, so a test may change records while a queue is running.
type Fake struct {
	mu   sync.Mutex
	mx   map[string][]*net.MX
	ip   map[string][]netip.Addr
	txt  map[string][]string
	fail map[string]bool
}

var _ Resolver = (*Fake)(nil)

// AddMX adds an MX record domain → host with preference pref. Host "." makes a
// null MX (RFC 7505).
func (f *Fake) AddMX(domain, host string, pref uint16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mx == nil {
		f.mx = map[string][]*net.MX{}
	}
	d := Canonical(domain)
	if host != "." {
		host = Canonical(host) + "."
	}
	f.mx[d] = append(f.mx[d], &net.MX{Host: host, Pref: pref})
}

// AddIP adds address records for host (A or AAAA by the address's family).
func (f *Fake) AddIP(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ip == nil {
		f.ip = map[string][]netip.Addr{}
	}
	h := Canonical(host)
	for _, a := range addrs {
		f.ip[h] = append(f.ip[h], netip.MustParseAddr(a))
	}
}

// AddTXT adds a TXT record.
func (f *Fake) AddTXT(name, txt string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.txt == nil {
		f.txt = map[string][]string{}
	}
	n := Canonical(name)
	f.txt[n] = append(f.txt[n], txt)
}

// Fail makes every lookup of name fail temporarily (fail=true) or answer
// normally again (fail=false).
func (f *Fake) Fail(name string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail == nil {
		f.fail = map[string]bool{}
	}
	f.fail[Canonical(name)] = fail
}

// LookupMX implements Resolver.
func (f *Fake) LookupMX(ctx context.Context, domain string) ([]*net.MX, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := Canonical(domain)
	if f.fail[d] {
		return nil, fmt.Errorf("lookup MX %s: %w", domain, ErrFakeTemporary)
	}
	mxs := f.mx[d]
	if len(mxs) == 0 {
		return nil, fmt.Errorf("lookup MX %s: %w", domain, ErrNotFound)
	}
	out := make([]*net.MX, len(mxs))
	for i, m := range mxs {
		c := *m
		out[i] = &c
	}
	return out, nil
}

// LookupIP implements Resolver.
func (f *Fake) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := Canonical(host)
	if f.fail[h] {
		return nil, fmt.Errorf("lookup IP %s: %w", host, ErrFakeTemporary)
	}
	var out []netip.Addr
	for _, a := range f.ip[h] {
		if network == "ip" || (network == "ip4" && a.Is4()) || (network == "ip6" && a.Is6()) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup IP %s: %w", host, ErrNotFound)
	}
	return out, nil
}

// LookupTXT implements Resolver.
func (f *Fake) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := Canonical(name)
	if f.fail[n] {
		return nil, fmt.Errorf("lookup TXT %s: %w", name, ErrFakeTemporary)
	}
	if len(f.txt[n]) == 0 {
		return nil, fmt.Errorf("lookup TXT %s: %w", name, ErrNotFound)
	}
	return append([]string(nil), f.txt[n]...), nil
}
