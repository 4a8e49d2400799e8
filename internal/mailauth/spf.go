package mailauth

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"
)

// SPFResult is the outcome of check_host() (RFC 7208 4) for one identity.
type SPFResult struct {
	Status Status // pass, fail, softfail, neutral, none, temperror or permerror (RFC 7208 2.6)
	// Identity is "mailfrom", or "helo" when MAIL FROM was empty (RFC 7208 2.4).
	Identity string
	// Sender is the checked identity as it goes into Authentication-Results:
	// the MAIL FROM address, or the HELO name.
	Sender string
	// Domain is the domain whose policy was evaluated, lower-case; DMARC
	// aligns it with the From domain (RFC 7489 3.1.2).
	Domain string
	// Err explains the result for logs; it may be set even on pass and is
	// never shown to the client.
	Err error
}

// SPF evaluates the sender policy for a connection from ip that said helo
// and gave mailFrom (without angle brackets; "" for the null reverse-path).
// RFC 7208 2.4: the MAIL FROM identity is checked, and when it is empty the
// check uses postmaster@<HELO>.
func (c *Checker) SPF(ctx context.Context, ip netip.Addr, helo, mailFrom string) SPFResult {
	res := SPFResult{Identity: "mailfrom", Sender: mailFrom}
	sender := mailFrom
	domain := ""
	if at := strings.LastIndexByte(mailFrom, '@'); at >= 0 {
		domain = mailFrom[at+1:]
	}
	if mailFrom == "" {
		res.Identity, res.Sender = "helo", helo
		domain = helo
		sender = "postmaster@" + helo
	}
	d, err := normalizeDomain(domain)
	// RFC 7208 4.3: a malformed or single-label domain (or an address
	// literal as HELO) yields "none" without any lookup.
	if err != nil || !validSPFDomain(d) {
		res.Status = None
		res.Err = errors.New("spf: no valid domain to check")
		if err != nil {
			res.Err = err
		}
		return res
	}
	res.Domain = d
	if at := strings.LastIndexByte(sender, '@'); at >= 0 {
		sender = sender[:at+1] + d
	}
	if !ip.IsValid() {
		res.Status, res.Err = PermError, errors.New("spf: no client address")
		return res
	}
	r, err := spf.CheckHostWithSender(net.IP(ip.Unmap().AsSlice()), helo, sender,
		spf.WithContext(ctx),
		spf.WithResolver(spfResolver{c.dns}),
	)
	res.Status, res.Err = Status(r), err
	return res
}
