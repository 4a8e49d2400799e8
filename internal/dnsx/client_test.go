package dnsx_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"gannet/internal/dnsx"
	"gannet/internal/dnsx/dnstest"
)

// TestClient runs the Resolver contract against a Client asking a real DNS
// server on loopback, then what only a Client does: PTR, SRV, CNAME chains
// and an answer too large for UDP (retried over TCP).
func TestClient(t *testing.T) {
	t.Parallel()
	s := dnstest.Start(t)
	s.Add("mail.test", "MX", "10 mx1.mail.test.")
	s.Add("mail.test", "MX", "20 mx2.mail.test.")
	s.Add("nullmx.test", "MX", "0 .")
	s.Add("mx1.mail.test", "A", "192.0.2.1")
	s.Add("txt.test", "TXT", `"v=spf1 " "-all"`)
	s.Fail("broken.test", true)
	c := dnsx.Client{Server: s.Addr}
	contract(t, c)

	ctx := context.Background()
	s.Add("1.2.0.192.in-addr.arpa", "PTR", "mx1.mail.test.")
	s.Add(dnsx.ReverseName(netip.MustParseAddr("2001:db8::1")), "PTR", "v6.mail.test.")
	if names, err := c.LookupAddr(ctx, netip.MustParseAddr("192.0.2.1")); err != nil || len(names) != 1 || names[0] != "mx1.mail.test." {
		t.Errorf("LookupAddr v4 = %v, %v", names, err)
	}
	if names, err := c.LookupAddr(ctx, netip.MustParseAddr("2001:db8::1")); err != nil || len(names) != 1 || names[0] != "v6.mail.test." {
		t.Errorf("LookupAddr v6 = %v, %v", names, err)
	}
	if _, err := c.LookupAddr(ctx, netip.MustParseAddr("192.0.2.9")); !errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("LookupAddr without PTR: %v", err)
	}
	s.Add("_imaps._tcp.mail.test", "SRV", "0 1 993 mx1.mail.test.")
	if srv, err := c.LookupSRV(ctx, "_imaps._tcp.mail.test"); err != nil || len(srv) != 1 || srv[0].Port != 993 || srv[0].Target != "mx1.mail.test." {
		t.Errorf("LookupSRV = %v, %v", srv, err)
	}
	s.Add("alias.mail.test", "CNAME", "mx1.mail.test.")
	if ips, err := c.LookupIP(ctx, "ip", "alias.mail.test"); err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("LookupIP through a CNAME = %v, %v", ips, err)
	}
	long := strings.Repeat("x", 3000)
	s.Add("long.test", "TXT", long)
	if txt, err := c.LookupTXT(ctx, "long.test"); err != nil || len(txt) != 1 || txt[0] != long {
		t.Errorf("LookupTXT of 3000 bytes (over TCP): %d records, %v", len(txt), err)
	}
	s.Add("v6only.test", "AAAA", "2001:db8::1")
	if ips, err := c.LookupIP(ctx, "ip", "v6only.test"); err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("2001:db8::1") {
		t.Errorf("LookupIP AAAA only = %v, %v", ips, err)
	}
	if _, err := c.LookupIP(ctx, "ip4", "v6only.test"); !errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("LookupIP ip4 of an AAAA-only name: %v", err)
	}
}

func TestReverseName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.1":          "1.2.0.192.in-addr.arpa.",
		"::ffff:192.0.2.1":   "1.2.0.192.in-addr.arpa.",
		"2001:db8::567:89ab": "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
	} {
		if got := dnsx.ReverseName(netip.MustParseAddr(in)); got != want {
			t.Errorf("ReverseName(%s) = %s, want %s", in, got, want)
		}
	}
}
