package doctor

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"gannet/internal/dnsx"
	"gannet/internal/mailauth"
)

func errorsIsNotFound(err error) bool { return errors.Is(err, dnsx.ErrNotFound) }

// checkMX: the domain's MX must name the host (RFC 5321 5.1), else no mail
// arrives.
func (c *checker) checkMX(ctx context.Context) {
	check := "MX " + c.domain
	fix := publish(c.record(c.domain+".", "MX"))
	mxs, err := c.opts.Resolver.LookupMX(ctx, c.domain)
	if err != nil {
		c.add(Fail, check, lookupWords(err)+": no mail can reach the domain", fix)
		return
	}
	if dnsx.IsNullMX(mxs) {
		c.add(Fail, check, "a null MX (RFC 7505) says the domain accepts no mail", "remove it and "+fix)
		return
	}
	var names []string
	ours := false
	for _, m := range mxs {
		h := dnsx.Canonical(m.Host)
		names = append(names, fmt.Sprintf("%d %s", m.Pref, h))
		ours = ours || h == c.host
	}
	slices.Sort(names)
	switch {
	case !ours:
		c.add(Fail, check, fmt.Sprintf("points at %s, not at %s", strings.Join(names, ", "), c.host), fix)
	case len(mxs) > 1:
		c.add(Warn, check, fmt.Sprintf("%s: other hosts than %s receive mail for the domain too", strings.Join(names, ", "), c.host),
			"remove the others unless they relay to "+c.host)
	default:
		c.add(OK, check, names[0], "")
	}
}

// checkAddrs: the host needs an address, an IPv4 one for the many senders
// that have no IPv6.
func (c *checker) checkAddrs(ctx context.Context) {
	check := "A/AAAA " + c.host
	addrs, err := c.opts.Resolver.LookupIP(ctx, "ip", c.host)
	if err != nil {
		c.add(Fail, check, lookupWords(err), fmt.Sprintf("publish %s. A <this server's IPv4 address> (and AAAA for IPv6)", c.host))
		return
	}
	c.addrs = addrs
	words := addrList(addrs)
	if !slices.ContainsFunc(addrs, netip.Addr.Is4) {
		c.add(Warn, check, words+": no IPv4 address, which many senders need",
			fmt.Sprintf("publish %s. A <this server's IPv4 address>", c.host))
		return
	}
	c.add(OK, check, words, "")
}

func addrList(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ", ")
}

// checkPTR: forward-confirmed reverse DNS (RFC 8601 3: iprev): each address
// of the host must have a PTR naming the host, which resolves back to it.
// Large receivers refuse or junk mail from addresses without it.
func (c *checker) checkPTR(ctx context.Context) {
	for _, a := range c.addrs {
		check := "PTR " + a.String()
		fix := fmt.Sprintf("ask your hosting provider to set the reverse DNS (PTR) of %s to %s", a, c.host)
		names, err := c.opts.Resolver.LookupAddr(ctx, a)
		if err != nil {
			c.add(Fail, check, lookupWords(err), fix)
			continue
		}
		var canon []string
		for _, n := range names {
			canon = append(canon, dnsx.Canonical(n))
		}
		if !slices.Contains(canon, c.host) {
			c.add(Fail, check, fmt.Sprintf("names %s, not %s", strings.Join(canon, ", "), c.host), fix)
			continue
		}
		c.add(OK, check, c.host, "")
	}
}

// checkSPF evaluates the domain's SPF policy (RFC 7208 4) for each of the
// host's addresses, as a receiver would for mail from postmaster@domain.
func (c *checker) checkSPF(ctx context.Context) {
	check := "SPF " + c.domain
	fix := publish(c.record(c.domain+".", "TXT"))
	txts, err := c.opts.Resolver.LookupTXT(ctx, c.domain)
	if err != nil && !errorsIsNotFound(err) {
		c.add(Fail, check, lookupWords(err), "")
		return
	}
	var spf []string
	for _, t := range txts {
		if f := strings.Fields(strings.ToLower(t)); len(f) > 0 && f[0] == "v=spf1" {
			spf = append(spf, t)
		}
	}
	switch {
	case len(spf) == 0:
		c.add(Fail, check, "no SPF record: receivers cannot tell this server may send for the domain", fix)
		return
	case len(spf) > 1:
		// RFC 7208 4.5: more than one record is a permerror.
		c.add(Fail, check, fmt.Sprintf("%d SPF records; receivers treat that as an error", len(spf)), "keep one: "+fix)
		return
	}
	if len(c.addrs) == 0 {
		c.add(Warn, check, fmt.Sprintf("%q, not evaluated: the host has no address", spf[0]), "")
		return
	}
	ch, err := mailauth.New(mailauth.Options{Resolver: c.opts.Resolver, IsNotFound: errorsIsNotFound, Hostname: c.host})
	if err != nil {
		c.add(Fail, check, err.Error(), "")
		return
	}
	for _, a := range c.addrs {
		r := ch.SPF(ctx, a, c.host, "postmaster@"+c.domain)
		if r.Status != mailauth.Pass {
			msg := fmt.Sprintf("%q does not allow %s (result %s)", spf[0], a, r.Status)
			c.add(Fail, check, msg, fmt.Sprintf("%s (or add \"mx\" or \"ip%d:%s\" to yours)", fix, ipVersion(a), a))
			return
		}
	}
	c.add(OK, check, fmt.Sprintf("%q allows %s", spf[0], addrList(c.addrs)), "")
}

func ipVersion(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// checkDKIM: each selector's published key must be the store's key (RFC
// 6376 3.6.1), else every signature fails.
func (c *checker) checkDKIM(ctx context.Context) {
	if len(c.opts.DNS.Keys) == 0 {
		c.add(Fail, "DKIM", "the domain has no signing keys in the store", "gannet domain add "+c.domain+" makes them")
		return
	}
	for _, k := range c.opts.DNS.Keys {
		name := k.Selector + "._domainkey." + c.domain
		check := "DKIM " + name
		fix := publish(c.record(name+".", "TXT"))
		txts, err := c.opts.Resolver.LookupTXT(ctx, name)
		if err != nil {
			c.add(Fail, check, lookupWords(err), fix)
			continue
		}
		if len(txts) != 1 {
			c.add(Fail, check, fmt.Sprintf("%d TXT records where one is needed", len(txts)), "keep one: "+fix)
			continue
		}
		pub, err := mailauth.ParseKeyRecord(txts[0])
		if err != nil {
			c.add(Fail, check, "unreadable: "+err.Error(), fix)
			continue
		}
		type equaler interface{ Equal(x crypto.PublicKey) bool }
		if e, ok := pub.(equaler); !ok || !e.Equal(k.Signer.Public()) {
			c.add(Fail, check, "the published key is not the key Gannet signs with", fix)
			continue
		}
		c.add(OK, check, "matches the signing key ("+string(k.Algorithm())+")", "")
	}
}

// checkDMARC: one parseable record at _dmarc (RFC 7489 6.6.3).
func (c *checker) checkDMARC(ctx context.Context) {
	name := "_dmarc." + c.domain
	check := "DMARC " + name
	fix := publish(c.record(name+".", "TXT"))
	txts, err := c.opts.Resolver.LookupTXT(ctx, name)
	if err != nil {
		c.add(Fail, check, lookupWords(err), fix)
		return
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			recs = append(recs, t)
		}
	}
	switch {
	case len(recs) == 0:
		c.add(Fail, check, "no v=DMARC1 record", fix)
		return
	case len(recs) > 1:
		// RFC 7489 6.6.3 step 5: several records mean no policy.
		c.add(Fail, check, fmt.Sprintf("%d DMARC records; receivers ignore them all", len(recs)), "keep one: "+fix)
		return
	}
	d, err := mailauth.ParseDMARC(recs[0])
	if err != nil {
		c.add(Fail, check, fmt.Sprintf("%q: %v", recs[0], err), fix)
		return
	}
	if d.Policy == mailauth.PolicyNone {
		c.add(Warn, check, fmt.Sprintf("%q: p=none asks receivers to do nothing with forged mail", recs[0]), fix)
		return
	}
	c.add(OK, check, fmt.Sprintf("p=%s", d.Policy), "")
}

// checkTLSRPT: a TLS-RPT record (RFC 8460 3) gets reports of failed TLS
// deliveries to us; optional, so a warning.
func (c *checker) checkTLSRPT(ctx context.Context) {
	name := "_smtp._tls." + c.domain
	check := "TLS-RPT " + name
	fix := publish(c.record(name+".", "TXT"))
	txts, err := c.opts.Resolver.LookupTXT(ctx, name)
	if err != nil {
		c.add(Warn, check, lookupWords(err)+": no reports of TLS failures", fix)
		return
	}
	for _, t := range txts {
		if strings.HasPrefix(t, "v=TLSRPTv1;") && strings.Contains(t, "rua=") {
			c.add(OK, check, fmt.Sprintf("%q", t), "")
			return
		}
	}
	c.add(Warn, check, "no v=TLSRPTv1 record with rua=", fix)
}

// checkSRV: the RFC 6186 records that let clients find the servers. A
// missing one is a warning (clients also try autoconfig and guesses); one
// pointing elsewhere sends clients elsewhere.
func (c *checker) checkSRV(ctx context.Context) {
	bad := 0
	for _, r := range c.recs {
		if r.Type != "SRV" {
			continue
		}
		name := strings.TrimSuffix(r.Name, ".")
		check := "SRV " + name
		f := strings.Fields(r.Data)
		wantPort, _ := strconv.Atoi(f[2])
		srvs, err := c.opts.Resolver.LookupSRV(ctx, name)
		if err != nil {
			c.add(Warn, check, lookupWords(err)+": clients must be told the server by hand", publish(r.String()))
			bad++
			continue
		}
		ok := false
		var got []string
		for _, s := range srvs {
			got = append(got, fmt.Sprintf("%d %s", s.Port, dnsx.Canonical(s.Target)))
			ok = ok || (dnsx.Canonical(s.Target) == c.host && int(s.Port) == wantPort)
		}
		if !ok {
			c.add(Fail, check, fmt.Sprintf("points at %s, not port %d of %s", strings.Join(got, ", "), wantPort, c.host), publish(r.String()))
			bad++
		}
	}
	if bad == 0 {
		c.add(OK, "SRV _*._tcp."+c.domain, "every client service record points at "+c.host, "")
	}
}

// checkServiceNames: autoconfig.D and autodiscover.D (client settings) and
// mta-sts.D (the MTA-STS policy) must reach this host.
func (c *checker) checkServiceNames(ctx context.Context) {
	for _, label := range []string{"autoconfig", "autodiscover", "mta-sts"} {
		name := label + "." + c.domain
		check := "name " + name
		fix := publish(c.record(name+".", "CNAME"))
		st := Warn
		if label == "mta-sts" {
			st = Fail // without it the policy published in _mta-sts cannot be fetched
		}
		addrs, err := c.opts.Resolver.LookupIP(ctx, "ip", name)
		if err != nil {
			c.add(st, check, lookupWords(err), fix)
			continue
		}
		if !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return slices.Contains(c.addrs, a) }) {
			c.add(st, check, fmt.Sprintf("resolves to %s, not to %s's addresses", addrList(addrs), c.host), fix)
			continue
		}
		c.add(OK, check, "reaches "+c.host, "")
	}
}
