package queue

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"

	"golang.org/x/net/idna"

	"gannet/internal/dnsx"
	"gannet/internal/smtpclient"
)

// route is where the mail of one recipient domain goes. Recipients with the
// same route key share a job and its connection.
type route struct {
	key    string
	domain string // for MX routes: the destination domain
	addr   string // for fixed routes: "host:port" of a transport or the smarthost
	smart  bool
}

// route picks, in this order, a per-domain transport, the smarthost, or the
// domain's MX hosts.
func (q *Queue) route(domain string) route {
	// Config keys are lower-case A-labels (config.normalize).
	if a, err := idna.Lookup.ToASCII(domain); err == nil {
		domain = a
	}
	if a, ok := q.cfg.Transports[domain]; ok {
		return route{key: "transport " + a, addr: a}
	}
	if q.cfg.Smarthost != "" {
		return route{key: "smarthost", addr: q.cfg.Smarthost, smart: true}
	}
	return route{key: "mx " + domain, domain: domain}
}

// target is one host to try, with its addresses in order.
type target struct {
	host  string   // the name we connect to (TLS server name, Remote-MTA)
	addrs []string // "ip:port"
}

// failure is a local verdict on recipients that no server gave, e.g. a domain
// without any mail host.
func failure(code int, enhanced, format string, args ...any) smtpclient.Reply {
	return smtpclient.Reply{Code: code, Enhanced: enhanced, Text: fmt.Sprintf(format, args...), Local: true}
}

// targets resolves a route to the hosts to try, in order. A non-zero reply is
// the verdict for every recipient of the route when there is nothing to try.
func (q *Queue) targets(ctx context.Context, rt route) ([]target, smtpclient.Reply) {
	if rt.addr != "" {
		host, port, err := net.SplitHostPort(rt.addr)
		if err != nil {
			return nil, failure(451, "4.3.5", "bad route %q: %v", rt.addr, err)
		}
		t, fail := q.resolveHost(ctx, host, port)
		if fail.Code != 0 {
			return nil, fail
		}
		return []target{t}, smtpclient.Reply{}
	}
	domain, err := idna.Lookup.ToASCII(rt.domain)
	if err != nil {
		return nil, failure(550, "5.1.2", "invalid domain %q: %v", rt.domain, err)
	}
	hosts, fail := q.mxHosts(ctx, domain)
	if fail.Code != 0 {
		return nil, fail
	}
	var out []target
	var temp error
	for _, h := range hosts {
		t, f := q.resolveHost(ctx, h, "25")
		if f.Code != 0 {
			if f.Temporary() {
				temp = errors.New(f.Text)
			}
			continue
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		if temp != nil {
			return nil, failure(451, "4.4.3", "cannot resolve mail hosts of %s: %v", domain, temp)
		}
		// RFC 5321 5.1: no usable address for any MX host.
		return nil, failure(550, "5.4.4", "no address for any mail host of %s", domain)
	}
	return out, smtpclient.Reply{}
}

// mxHosts returns the domain's mail hosts in the order to try them
// (RFC 5321 5.1): by preference, shuffled among equal preferences, without
// ourselves or any host less preferred than us.
func (q *Queue) mxHosts(ctx context.Context, domain string) ([]string, smtpclient.Reply) {
	mxs, err := q.res.LookupMX(ctx, domain)
	switch {
	case errors.Is(err, dnsx.ErrNotFound):
		// RFC 5321 5.1: no MX records: the domain itself is the implicit MX
		// with preference 0 (its A/AAAA records are looked up next; when it
		// has none either, the domain takes no mail).
		if _, err := q.res.LookupIP(ctx, "ip", domain); errors.Is(err, dnsx.ErrNotFound) {
			return nil, failure(550, "5.1.2", "domain %s has no MX and no address records", domain)
		} else if err != nil {
			return nil, failure(451, "4.4.3", "DNS lookup for %s failed: %v", domain, err)
		}
		return []string{domain}, smtpclient.Reply{}
	case err != nil:
		return nil, failure(451, "4.4.3", "MX lookup for %s failed: %v", domain, err)
	}
	if dnsx.IsNullMX(mxs) {
		// RFC 7505 3 and 4.3: the domain declares it accepts no mail.
		return nil, failure(556, "5.1.10", "domain %s does not accept mail (null MX)", domain)
	}
	mxs = slices.DeleteFunc(slices.Clone(mxs), func(m *net.MX) bool { return dnsx.Canonical(m.Host) == "." || m.Host == "" })
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return cmp.Compare(a.Pref, b.Pref) })
	self := dnsx.Canonical(q.hostname)
	for i, m := range mxs {
		if dnsx.Canonical(m.Host) == self {
			// RFC 5321 5.1: when we are one of the MX hosts, only those more
			// preferred than us may be tried; else the mail loops.
			pref := m.Pref
			mxs = slices.DeleteFunc(mxs[:i:i], func(m *net.MX) bool { return m.Pref >= pref })
			if len(mxs) == 0 {
				return nil, failure(550, "5.4.6", "mail for %s loops back to myself", domain)
			}
			break
		}
	}
	hosts := make([]string, len(mxs))
	for i, m := range mxs {
		hosts[i] = dnsx.Canonical(m.Host)
	}
	return hosts, smtpclient.Reply{}
}

// resolveHost turns a host name or IP literal into addresses with port.
func (q *Queue) resolveHost(ctx context.Context, host, port string) (target, smtpclient.Reply) {
	host = strings.Trim(host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		return target{host: host, addrs: []string{net.JoinHostPort(ip.String(), port)}}, smtpclient.Reply{}
	}
	ips, err := q.res.LookupIP(ctx, "ip", host)
	if errors.Is(err, dnsx.ErrNotFound) {
		return target{}, failure(550, "5.4.4", "host %s not found", host)
	}
	if err != nil {
		return target{}, failure(451, "4.4.3", "address lookup for %s failed: %v", host, err)
	}
	t := target{host: host}
	for _, ip := range ips {
		t.addrs = append(t.addrs, net.JoinHostPort(ip.String(), port))
	}
	return t, smtpclient.Reply{}
}

// clientOptions are the session options for a route.
func (q *Queue) clientOptions(rt route) smtpclient.Options {
	o := smtpclient.Options{Hostname: q.hostname, TLS: q.tls, Timeouts: q.timeouts}
	if rt.smart {
		o.TLS = q.smartTLS
		if o.TLS == nil {
			o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if q.cfg.SmarthostUsername != "" {
			o.Auth = &smtpclient.Auth{Username: q.cfg.SmarthostUsername, Password: q.cfg.SmarthostPassword}
		}
	}
	return o
}
