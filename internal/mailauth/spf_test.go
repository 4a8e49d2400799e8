package mailauth_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

// spfZone is shared by the SPF cases: each domain is one scenario.
func spfZone() *mailauthtest.Resolver {
	r := &mailauthtest.Resolver{}
	r.AddTXT("ip4.test", "v=spf1 ip4:192.0.2.0/24 -all")
	r.AddTXT("ip6.test", "v=spf1 ip6:2001:db8::/32 -all")
	r.AddTXT("mx.test", "v=spf1 mx -all")
	r.AddMX("mx.test", "mail.mx.test", 10)
	r.AddIP("mail.mx.test", "198.51.100.7")
	r.AddTXT("a.test", "v=spf1 a:out.a.test -all")
	r.AddIP("out.a.test", "198.51.100.8")
	r.AddTXT("soft.test", "v=spf1 ip4:192.0.2.1 ~all")
	r.AddTXT("neutral.test", "v=spf1 ?all")
	r.AddTXT("include.test", "v=spf1 include:ip4.test -all")
	r.AddTXT("ptr.test", "v=spf1 ptr -all")
	r.AddPTR("203.0.113.9", "host.ptr.test")
	r.AddIP("host.ptr.test", "203.0.113.9")
	r.AddTXT("norecord.test", "google-site-verification=abc")
	r.AddTXT("two.test", "v=spf1 -all", "v=spf1 +all")
	r.AddTXT("syntax.test", "v=spf1 ip4:192.0.2.0/99 -all")
	r.AddTXT("unknown.test", "v=spf1 frobnicate -all")
	r.AddTXT("includefail.test", "v=spf1 include:broken.test -all")
	r.Fail("broken.test")
	r.Fail("servfail.test")
	r.AddTXT("includenone.test", "v=spf1 include:nxdomain.test -all")
	// RFC 7208 4.6.4: the 11th DNS-querying term makes a permerror. Each
	// include: counts one.
	for i := range 11 {
		r.AddTXT(fmt.Sprintf("l%d.chain.test", i), fmt.Sprintf("v=spf1 include:l%d.chain.test -all", i+1))
	}
	r.AddTXT("l11.chain.test", "v=spf1 ip4:192.0.2.1 -all")
	for i := range 9 {
		r.AddTXT(fmt.Sprintf("k%d.short.test", i), fmt.Sprintf("v=spf1 include:k%d.short.test -all", i+1))
	}
	r.AddTXT("k9.short.test", "v=spf1 ip4:192.0.2.1 -all")
	// RFC 7208 4.6.4: more than two void lookups are a permerror.
	r.AddTXT("void.test", "v=spf1 a:v1.void.test a:v2.void.test a:v3.void.test -all")
	r.AddTXT("helo.example", "v=spf1 ip4:192.0.2.55 -all")
	// RFC 7208 2.4: for the null sender the local-part is "postmaster".
	r.AddTXT("macro.example", "v=spf1 exists:%{l}.%{o}._spf.macro.example -all")
	r.AddIP("postmaster.macro.example._spf.macro.example", "127.0.0.2")
	r.AddIP("bob.macro.example._spf.macro.example", "127.0.0.2")
	return r
}

func TestSPF(t *testing.T) {
	t.Parallel()
	c := newChecker(t, spfZone(), nil)
	for _, tc := range []struct {
		name, ip, helo, from string
		want                 mailauth.Status
		wantIdentity, domain string
	}{
		{"ip4 pass", "192.0.2.10", "x.example", "a@ip4.test", mailauth.Pass, "mailfrom", "ip4.test"},
		{"ip4 fail", "198.51.100.1", "x.example", "a@ip4.test", mailauth.Fail, "mailfrom", "ip4.test"},
		{"ip6 pass", "2001:db8::25", "x.example", "a@ip6.test", mailauth.Pass, "mailfrom", "ip6.test"},
		{"v4-mapped client", "::ffff:192.0.2.10", "x.example", "a@ip4.test", mailauth.Pass, "mailfrom", "ip4.test"},
		{"mx pass", "198.51.100.7", "x.example", "a@mx.test", mailauth.Pass, "mailfrom", "mx.test"},
		{"a pass", "198.51.100.8", "x.example", "a@a.test", mailauth.Pass, "mailfrom", "a.test"},
		{"a fail", "198.51.100.9", "x.example", "a@a.test", mailauth.Fail, "mailfrom", "a.test"},
		{"softfail", "198.51.100.1", "x.example", "a@soft.test", mailauth.SoftFail, "mailfrom", "soft.test"},
		{"neutral", "198.51.100.1", "x.example", "a@neutral.test", mailauth.Neutral, "mailfrom", "neutral.test"},
		{"include pass", "192.0.2.10", "x.example", "a@include.test", mailauth.Pass, "mailfrom", "include.test"},
		{"include fail", "198.51.100.1", "x.example", "a@include.test", mailauth.Fail, "mailfrom", "include.test"},
		{"ptr pass", "203.0.113.9", "x.example", "a@ptr.test", mailauth.Pass, "mailfrom", "ptr.test"},
		{"case-insensitive domain", "192.0.2.10", "x.example", "a@IP4.Test", mailauth.Pass, "mailfrom", "ip4.test"},
		{"none: no spf record", "192.0.2.10", "x.example", "a@norecord.test", mailauth.None, "mailfrom", "norecord.test"},
		{"none: nxdomain", "192.0.2.10", "x.example", "a@nxdomain.test", mailauth.None, "mailfrom", "nxdomain.test"},
		{"none: single label", "192.0.2.10", "x.example", "a@localhost", mailauth.None, "mailfrom", ""},
		{"temperror: servfail", "192.0.2.10", "x.example", "a@servfail.test", mailauth.TempError, "mailfrom", "servfail.test"},
		{"temperror: include servfail", "192.0.2.10", "x.example", "a@includefail.test", mailauth.TempError, "mailfrom", "includefail.test"},
		{"permerror: include of nothing", "192.0.2.10", "x.example", "a@includenone.test", mailauth.PermError, "mailfrom", "includenone.test"},
		{"permerror: two records", "192.0.2.10", "x.example", "a@two.test", mailauth.PermError, "mailfrom", "two.test"},
		{"permerror: bad mask", "192.0.2.10", "x.example", "a@syntax.test", mailauth.PermError, "mailfrom", "syntax.test"},
		{"permerror: unknown mechanism", "192.0.2.10", "x.example", "a@unknown.test", mailauth.PermError, "mailfrom", "unknown.test"},
		{"permerror: 11 lookups", "192.0.2.1", "x.example", "a@l0.chain.test", mailauth.PermError, "mailfrom", "l0.chain.test"},
		{"pass: 9 lookups is within the limit", "192.0.2.1", "x.example", "a@k0.short.test", mailauth.Pass, "mailfrom", "k0.short.test"},
		{"permerror: void lookups", "192.0.2.1", "x.example", "a@void.test", mailauth.PermError, "mailfrom", "void.test"},
		{"null sender uses HELO: pass", "192.0.2.55", "helo.example", "", mailauth.Pass, "helo", "helo.example"},
		{"null sender uses HELO: fail", "192.0.2.56", "helo.example", "", mailauth.Fail, "helo", "helo.example"},
		{"null sender macros see postmaster", "192.0.2.56", "macro.example", "", mailauth.Pass, "helo", "macro.example"},
		{"sender macros see the local-part", "192.0.2.56", "x.example", "bob@macro.example", mailauth.Pass, "mailfrom", "macro.example"},
		{"sender macros, unknown local-part", "192.0.2.56", "x.example", "eve@macro.example", mailauth.Fail, "mailfrom", "macro.example"},
		{"null sender, address literal HELO", "192.0.2.56", "[192.0.2.56]", "", mailauth.None, "helo", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := c.SPF(context.Background(), netip.MustParseAddr(tc.ip), tc.helo, tc.from)
			if got.Status != tc.want || got.Identity != tc.wantIdentity || got.Domain != tc.domain {
				t.Errorf("SPF(%s, %q, %q) = %s/%s/%q (%v), want %s/%s/%q",
					tc.ip, tc.helo, tc.from, got.Status, got.Identity, got.Domain, got.Err, tc.want, tc.wantIdentity, tc.domain)
			}
		})
	}
}

// TestSPFLookupLimitCountsQueries checks that evaluation stops at the limit
// instead of following the whole chain.
func TestSPFLookupLimitCountsQueries(t *testing.T) {
	t.Parallel()
	r := spfZone()
	c := newChecker(t, r, nil)
	got := c.SPF(context.Background(), netip.MustParseAddr("192.0.2.1"), "x.example", "a@l0.chain.test")
	if got.Status != mailauth.PermError {
		t.Fatalf("status %s, want permerror", got.Status)
	}
	for _, q := range r.Queries() {
		if q == "TXT l11.chain.test" {
			t.Errorf("queried %s beyond the 10-lookup limit; queries: %v", q, r.Queries())
		}
	}
}

func TestSPFNoClientAddress(t *testing.T) {
	t.Parallel()
	c := newChecker(t, spfZone(), nil)
	if got := c.SPF(context.Background(), netip.Addr{}, "x.example", "a@ip4.test"); got.Status != mailauth.PermError {
		t.Errorf("status %s, want permerror", got.Status)
	}
}
