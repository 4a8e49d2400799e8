package mailauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

// TestCheck runs whole messages through Check against one zone holding the
// issue's scenarios, and compares the Authentication-Results field and the
// disposition.
func TestCheck(t *testing.T) {
	t.Parallel()
	r := &mailauthtest.Resolver{}
	key := edKey(t, "s1")
	lost := edKey(t, "lost")
	for _, d := range []string{"good.com", "bad.com"} {
		publish(t, r, d, key)
	}
	r.AddTXT("good.com", "v=spf1 ip4:192.0.2.0/24 -all")
	r.AddTXT("_dmarc.good.com", "v=DMARC1; p=reject")
	r.AddTXT("soft.com", "v=spf1 ip4:192.0.2.0/24 ~all")
	r.AddTXT("_dmarc.soft.com", "v=DMARC1; p=quarantine")
	r.AddTXT("bad.com", "v=spf1 include:l1.bad.com -all")
	for i := 1; i <= 11; i++ { // one include too many (RFC 7208 4.6.4)
		r.AddTXT(fmt.Sprintf("l%d.bad.com", i), fmt.Sprintf("v=spf1 include:l%d.bad.com -all", i+1))
	}
	r.AddTXT("l12.bad.com", "v=spf1 ip4:192.0.2.0/24 -all")
	r.AddTXT("_dmarc.bad.com", "v=DMARC1; p=none; sp=reject")
	r.AddTXT("relay.net", "v=spf1 ip4:198.51.100.0/24 -all")

	good := sign(t, plain("good.com"), "good.com", key)
	unknownKey := sign(t, plain("bad.com"), "bad.com", lost)
	sig := func(raw []byte) string { // header.b as FormatResults writes it
		res := newChecker(t, r, nil).DKIM(context.Background(), raw)
		b := res[0].Signature[:8]
		if strings.ContainsAny(b, "/=") { // tspecials: RFC 8601 wants a quoted-string
			return `"` + b + `"`
		}
		return b
	}
	ip := netip.MustParseAddr("192.0.2.7")
	relay := netip.MustParseAddr("198.51.100.7")
	for _, tc := range []struct {
		name   string
		in     mailauth.Input
		header string
		dis    mailauth.Disposition
	}{
		{"all pass", mailauth.Input{RemoteIP: ip, Helo: "out.good.com", MailFrom: "alice@good.com", Raw: good},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=pass smtp.mailfrom=alice@good.com;\r\n" +
				"\tdkim=pass header.d=good.com header.s=s1 header.a=ed25519-sha256 header.b=" + sig(good) + ";\r\n" +
				"\tdmarc=pass (p=reject dis=none) header.from=good.com\r\n", mailauth.Accept},
		{"forwarded: spf fails, dkim carries dmarc", mailauth.Input{RemoteIP: relay, Helo: "relay.net", MailFrom: "list@relay.net", Raw: good},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=pass smtp.mailfrom=list@relay.net;\r\n" +
				"\tdkim=pass header.d=good.com header.s=s1 header.a=ed25519-sha256 header.b=" + sig(good) + ";\r\n" +
				"\tdmarc=pass (p=reject dis=none) header.from=good.com\r\n", mailauth.Accept},
		{"spoofed: dmarc reject", mailauth.Input{RemoteIP: relay, Helo: "relay.net", MailFrom: "x@relay.net", Raw: plain("good.com")},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=pass smtp.mailfrom=x@relay.net;\r\n\tdkim=none;\r\n" +
				"\tdmarc=fail (p=reject dis=reject) header.from=good.com\r\n", mailauth.Reject},
		{"body altered: dkim fail, spf pass", mailauth.Input{RemoteIP: ip, Helo: "out.good.com", MailFrom: "alice@good.com",
			Raw: bytes.Replace(good, []byte("See you."), []byte("Pay now."), 1)},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=pass smtp.mailfrom=alice@good.com;\r\n" +
				"\tdkim=fail reason=\"body hash did not verify\" header.d=good.com header.s=s1 header.a=ed25519-sha256 header.b=" + sig(good) + ";\r\n" +
				"\tdmarc=pass (p=reject dis=none) header.from=good.com\r\n", mailauth.Accept},
		{"softfail: quarantine", mailauth.Input{RemoteIP: relay, Helo: "relay.example", MailFrom: "a@soft.com", Raw: plain("soft.com")},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=softfail smtp.mailfrom=a@soft.com;\r\n\tdkim=none;\r\n" +
				"\tdmarc=fail (p=quarantine dis=quarantine) header.from=soft.com\r\n", mailauth.Quarantine},
		{"spf permerror (lookup limit), missing key, p=none", mailauth.Input{RemoteIP: ip, Helo: "h.bad.com", MailFrom: "a@bad.com",
			Raw: unknownKey},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=permerror smtp.mailfrom=a@bad.com;\r\n" +
				"\tdkim=permerror reason=\"no key for signature: lookup lost._domainkey.bad.com: no such host\" header.d=bad.com header.s=lost header.a=ed25519-sha256 header.b=" + sig(unknownKey) + ";\r\n" +
				"\tdmarc=fail (p=none dis=none) header.from=bad.com\r\n", mailauth.Accept},
		{"subdomain under sp=reject", mailauth.Input{RemoteIP: ip, Helo: "h.example", MailFrom: "", Raw: plain("news.bad.com")},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=none smtp.helo=h.example;\r\n\tdkim=none;\r\n" +
				"\tdmarc=fail (p=reject dis=reject) header.from=news.bad.com\r\n", mailauth.Reject},
		{"no dmarc record", mailauth.Input{RemoteIP: ip, Helo: "h.example", MailFrom: "a@nowhere.com", Raw: plain("nowhere.com")},
			"Authentication-Results: mx.gannet.test;\r\n\tspf=none smtp.mailfrom=a@nowhere.com;\r\n\tdkim=none;\r\n" +
				"\tdmarc=none header.from=nowhere.com\r\n", mailauth.Accept},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := newChecker(t, r, nil).Check(context.Background(), tc.in)
			if res.Header != tc.header {
				t.Errorf("header\n%s\nwant\n%s", res.Header, tc.header)
			}
			if res.Disposition != tc.dis || res.Disposition != res.DMARC.Disposition {
				t.Errorf("disposition %s (dmarc %s), want %s", res.Disposition, res.DMARC.Disposition, tc.dis)
			}
			checkParses(t, res.Header)
		})
	}
}

func TestStamp(t *testing.T) {
	t.Parallel()
	r := &mailauthtest.Resolver{}
	c := newChecker(t, r, nil)
	raw := append([]byte("Authentication-Results: MX.GANNET.TEST; dmarc=pass header.from=bank.com\r\n"+
		"Authentication-Results: upstream.example; spf=pass\r\n"), plain("bank.com")...)
	orig := bytes.Clone(raw)
	res := c.Check(context.Background(), mailauth.Input{RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "h.example", MailFrom: "a@bank.com", Raw: raw})
	out := c.Stamp(raw, res)
	if !bytes.Equal(raw, orig) {
		t.Fatal("Stamp modified its input")
	}
	want := res.Header + "Authentication-Results: upstream.example; spf=pass\r\n" + string(plain("bank.com"))
	if string(out) != want {
		t.Errorf("stamped\n%q\nwant\n%q", out, want)
	}
	if n := strings.Count(strings.ToLower(string(out)), "authentication-results: mx.gannet.test"); n != 1 {
		t.Errorf("%d fields claim our id, want 1 (ours)", n)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := mailauth.New(mailauth.Options{Hostname: "h"}); err == nil {
		t.Error("no resolver accepted")
	}
	if _, err := mailauth.New(mailauth.Options{Resolver: &mailauthtest.Resolver{}}); err == nil {
		t.Error("no hostname accepted")
	}
	c, err := mailauth.New(mailauth.Options{Resolver: &mailauthtest.Resolver{}, Hostname: "h.test"})
	if err != nil || c.Hostname() != "h.test" {
		t.Errorf("New = %v, %v", c, err)
	}
}

// foreignResolver reports missing names with its own sentinel, as
// internal/dnsx does.
type foreignResolver struct{ mailauthtest.Resolver }

var errForeignNotFound = errors.New("foreign: not found")

func (f *foreignResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := f.Resolver.LookupTXT(ctx, name)
	if errors.Is(err, mailauth.ErrNotFound) {
		return nil, errForeignNotFound
	}
	return txts, err
}

// TestIsNotFound checks that the classification hook decides between "no
// policy" and "try again later".
func TestIsNotFound(t *testing.T) {
	t.Parallel()
	raw := plain("example.com")
	for _, tc := range []struct {
		name       string
		isNotFound func(error) bool
		spf, dmarc mailauth.Status
	}{
		{"default does not know the sentinel", nil, mailauth.TempError, mailauth.TempError},
		{"hook", func(err error) bool { return errors.Is(err, errForeignNotFound) }, mailauth.None, mailauth.None},
	} {
		c, err := mailauth.New(mailauth.Options{Resolver: &foreignResolver{}, Hostname: hostname, IsNotFound: tc.isNotFound})
		if err != nil {
			t.Fatal(err)
		}
		res := c.Check(context.Background(), mailauth.Input{RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "h.example", MailFrom: "a@example.com", Raw: raw})
		if res.SPF.Status != tc.spf || res.DMARC.Status != tc.dmarc {
			t.Errorf("%s: spf=%s dmarc=%s, want spf=%s dmarc=%s", tc.name, res.SPF.Status, res.DMARC.Status, tc.spf, tc.dmarc)
		}
	}
}
