package mailauth_test

import (
	"context"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

// FuzzParseDMARC checks that any accepted record is within the grammar's
// bounds and survives a String/Parse round trip.
func FuzzParseDMARC(f *testing.F) {
	f.Add("v=DMARC1; p=reject; sp=none; pct=25; adkim=s; aspf=r; rua=mailto:a@x.test,mailto:b@x.test")
	f.Add("v=DMARC1; p=bogus; rua=mailto:a@x.test!10m")
	f.Add("v=DMARC1;;;p=none;pct=")
	f.Fuzz(func(t *testing.T, txt string) {
		r, err := mailauth.ParseDMARC(txt)
		if err != nil {
			return
		}
		if r.Percent < 0 || r.Percent > 100 {
			t.Fatalf("pct %d", r.Percent)
		}
		switch r.Policy {
		case mailauth.PolicyNone, mailauth.PolicyQuarantine, mailauth.PolicyReject:
		default:
			t.Fatalf("policy %q", r.Policy)
		}
		for _, u := range append(r.ReportAggregate, r.ReportFailure...) {
			if u == "" || strings.ContainsAny(u, ";,") {
				return // not representable in String's output; nothing to compare
			}
		}
		back, err := mailauth.ParseDMARC(r.String())
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip of %q: %q parses to %+v, %v; want %+v", txt, r.String(), back, err, r)
		}
	})
}

// FuzzCheck feeds arbitrary messages to the whole inbound check: it must
// never panic and always produce a header field that parses.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("From: a@x.test\r\nDKIM-Signature: v=1; a=rsa-sha256; d=x.test; s=s; h=from; bh=AA==; b=AA==\r\n\r\nbody"))
	f.Add([]byte("From: =?x?q?a?= <a@x.test>, b@y.test\r\n\r\n"))
	f.Add([]byte("DKIM-Signature: \r\nDKIM-Signature: v=1\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := &mailauthtest.Resolver{}
		r.AddTXT("_dmarc.x.test", "v=DMARC1; p=reject")
		c, err := mailauth.New(mailauth.Options{Resolver: r, Hostname: hostname})
		if err != nil {
			t.Fatal(err)
		}
		res := c.Check(context.Background(), mailauth.Input{RemoteIP: netip.MustParseAddr("192.0.2.1"), Helo: "h.test", MailFrom: "a@x.test", Raw: raw})
		if len(res.DKIM) > mailauth.MaxSignatures {
			t.Fatalf("%d DKIM results", len(res.DKIM))
		}
		if strings.Count(res.Header, "\r\n") != 4+max(len(res.DKIM), 1)-1 {
			t.Fatalf("header has stray line breaks: %q", res.Header)
		}
		checkParses(t, res.Header)
	})
}
