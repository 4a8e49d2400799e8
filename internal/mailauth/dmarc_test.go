package mailauth_test

import (
	"context"
	"reflect"
	"testing"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
)

func TestParseDMARC(t *testing.T) {
	t.Parallel()
	def := func(p mailauth.Policy) mailauth.DMARCRecord {
		return mailauth.DMARCRecord{Policy: p, Percent: 100, DKIMAlignment: mailauth.Relaxed, SPFAlignment: mailauth.Relaxed}
	}
	with := func(r mailauth.DMARCRecord, f func(*mailauth.DMARCRecord)) mailauth.DMARCRecord { f(&r); return r }
	for _, tc := range []struct {
		txt     string
		want    mailauth.DMARCRecord
		wantErr bool
	}{
		{"v=DMARC1; p=reject", def(mailauth.PolicyReject), false},
		{"v=DMARC1;p=quarantine;", def(mailauth.PolicyQuarantine), false},
		{"v = DMARC1 ; P = None", def(mailauth.PolicyNone), false},
		{"v=DMARC1; p=reject; sp=none; pct=25; adkim=s; aspf=s; rua=mailto:a@x.test, mailto:b@x.test!10m; ruf=mailto:f@x.test; fo=1",
			with(def(mailauth.PolicyReject), func(r *mailauth.DMARCRecord) {
				r.SubdomainPolicy, r.Percent, r.DKIMAlignment, r.SPFAlignment = mailauth.PolicyNone, 25, mailauth.Strict, mailauth.Strict
				r.ReportAggregate = []string{"mailto:a@x.test", "mailto:b@x.test!10m"}
				r.ReportFailure = []string{"mailto:f@x.test"}
			}), false},
		// RFC 7489 6.3: errors in optional tags fall back to defaults.
		{"v=DMARC1; p=reject; pct=200; adkim=x; aspf=; junk", def(mailauth.PolicyReject), false},
		{"v=DMARC1; p=reject; pct=0", with(def(mailauth.PolicyReject), func(r *mailauth.DMARCRecord) { r.Percent = 0 }), false},
		// RFC 7489 6.6.3 step 6: bad p with a valid rua is p=none.
		{"v=DMARC1; p=bogus; rua=mailto:a@x.test", with(def(mailauth.PolicyNone), func(r *mailauth.DMARCRecord) {
			r.ReportAggregate = []string{"mailto:a@x.test"}
		}), false},
		{"v=DMARC1; rua=mailto:a@x.test", with(def(mailauth.PolicyNone), func(r *mailauth.DMARCRecord) {
			r.ReportAggregate = []string{"mailto:a@x.test"}
		}), false},
		{"v=DMARC1; p=reject; sp=bogus; rua=mailto:a@x.test", with(def(mailauth.PolicyNone), func(r *mailauth.DMARCRecord) {
			r.ReportAggregate = []string{"mailto:a@x.test"}
		}), false},
		{"v=DMARC1; p=bogus", mailauth.DMARCRecord{}, true},
		{"v=DMARC1", mailauth.DMARCRecord{}, true},
		{"v=DMARC1; p=reject; sp=bogus", mailauth.DMARCRecord{}, true},
		{"v=dmarc1; p=reject", mailauth.DMARCRecord{}, true}, // 6.3: v must match precisely
		{"p=reject; v=DMARC1", mailauth.DMARCRecord{}, true}, // v must come first
		{"v=spf1 -all", mailauth.DMARCRecord{}, true},
	} {
		got, err := mailauth.ParseDMARC(tc.txt)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseDMARC(%q) error %v, want error %v", tc.txt, err, tc.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseDMARC(%q) = %+v, want %+v", tc.txt, got, tc.want)
		}
	}
}

func TestDMARCRecordStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, txt := range []string{
		"v=DMARC1; p=quarantine; rua=mailto:postmaster@x.test",
		"v=DMARC1; p=reject; sp=none; pct=5; adkim=s; aspf=s; rua=mailto:a@x.test,mailto:b@x.test; ruf=mailto:c@x.test",
		"v=DMARC1; p=none",
	} {
		r, err := mailauth.ParseDMARC(txt)
		if err != nil {
			t.Fatal(err)
		}
		if r.String() != txt {
			t.Errorf("String() = %q, want %q", r.String(), txt)
		}
	}
}

func TestOrgDomain(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"example.com":          "example.com",
		"a.b.example.com":      "example.com",
		"mail.example.co.uk":   "example.co.uk",
		"co.uk":                "co.uk",
		"localhost":            "localhost",
		"x.unknowntld":         "x.unknowntld",
		"deep.sub.example.org": "example.org",
	} {
		if got := mailauth.OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

// dmarcZone publishes the policies the DMARC cases use. .com names are used
// where the organizational domain matters, since it comes from the real
// Public Suffix List.
func dmarcZone() *mailauthtest.Resolver {
	r := &mailauthtest.Resolver{}
	r.AddTXT("_dmarc.reject.com", "v=DMARC1; p=reject")
	r.AddTXT("_dmarc.quarantine.com", "v=DMARC1; p=quarantine")
	r.AddTXT("_dmarc.none.com", "v=DMARC1; p=none; rua=mailto:r@none.com")
	r.AddTXT("_dmarc.sp.com", "v=DMARC1; p=reject; sp=quarantine")
	r.AddTXT("_dmarc.own.sp.com", "v=DMARC1; p=none")
	r.AddTXT("_dmarc.strict.com", "v=DMARC1; p=reject; adkim=s; aspf=s")
	r.AddTXT("_dmarc.pct0.com", "v=DMARC1; p=reject; pct=0")
	r.AddTXT("_dmarc.pct50.com", "v=DMARC1; p=quarantine; pct=50")
	r.AddTXT("_dmarc.two.com", "v=DMARC1; p=reject", "v=DMARC1; p=none")
	r.AddTXT("_dmarc.broken.com", "v=DMARC1; p=nonsense")
	r.AddTXT("_dmarc.other.com", "some-verification=1", "v=DMARC1; p=reject")
	r.Fail("_dmarc.flaky.com")
	r.Fail("_dmarc.flakyorg.com")
	return r
}

func TestDMARC(t *testing.T) {
	t.Parallel()
	c := newChecker(t, dmarcZone(), func(n int) int { return 49 })
	spfPass := func(d string) mailauth.SPFResult {
		return mailauth.SPFResult{Status: mailauth.Pass, Identity: "mailfrom", Domain: d}
	}
	spfFail := func(d string) mailauth.SPFResult {
		return mailauth.SPFResult{Status: mailauth.Fail, Identity: "mailfrom", Domain: d}
	}
	dkim := func(s mailauth.Status, d string) []mailauth.DKIMResult {
		return []mailauth.DKIMResult{{Status: s, Domain: d}}
	}
	for _, tc := range []struct {
		name     string
		from     string // From header value
		spf      mailauth.SPFResult
		dkim     []mailauth.DKIMResult
		want     mailauth.Status
		policy   mailauth.Policy
		dis      mailauth.Disposition
		policyAt string
	}{
		{"reject: nothing aligned", "a@reject.com", spfFail("reject.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		{"reject: spf pass for another domain", "a@reject.com", spfPass("evil.com"), dkim(mailauth.Pass, "evil.com"), mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		{"pass by spf", "a@reject.com", spfPass("reject.com"), nil, mailauth.Pass, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"pass by dkim", "a@reject.com", spfFail("evil.com"), dkim(mailauth.Pass, "reject.com"), mailauth.Pass, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"dkim fail does not align", "a@reject.com", spfFail("evil.com"), dkim(mailauth.Fail, "reject.com"), mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		{"second signature passes", "a@reject.com", spfFail("evil.com"),
			[]mailauth.DKIMResult{{Status: mailauth.Fail, Domain: "reject.com"}, {Status: mailauth.Pass, Domain: "reject.com"}},
			mailauth.Pass, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"quarantine", "Alice <a@quarantine.com>", spfFail("quarantine.com"), nil, mailauth.Fail, mailauth.PolicyQuarantine, mailauth.Quarantine, "quarantine.com"},
		{"p=none", "a@none.com", spfFail("none.com"), nil, mailauth.Fail, mailauth.PolicyNone, mailauth.Accept, "none.com"},
		{"no record", "a@nodmarc.com", spfFail("nodmarc.com"), nil, mailauth.None, "", mailauth.Accept, ""},
		{"uppercase From domain", "a@REJECT.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		// Organizational domain (RFC 7489 6.6.3) and sp= (6.3).
		{"subdomain uses org record's p", "a@mail.reject.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		{"subdomain uses sp", "a@mail.sp.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyQuarantine, mailauth.Quarantine, "sp.com"},
		{"org domain itself uses p, not sp", "a@sp.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "sp.com"},
		{"subdomain with its own record", "a@own.sp.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyNone, mailauth.Accept, "own.sp.com"},
		{"deep subdomain uses sp", "a@x.y.sp.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyQuarantine, mailauth.Quarantine, "sp.com"},
		// Alignment (RFC 7489 3.1).
		{"relaxed: spf on subdomain aligns", "a@reject.com", spfPass("bounces.reject.com"), nil, mailauth.Pass, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"relaxed: dkim on parent aligns with subdomain", "a@news.reject.com", spfFail("x.com"), dkim(mailauth.Pass, "reject.com"), mailauth.Pass, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"strict: spf on subdomain does not align", "a@strict.com", spfPass("bounces.strict.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "strict.com"},
		{"strict: dkim on subdomain does not align", "a@strict.com", spfFail("x.com"), dkim(mailauth.Pass, "mail.strict.com"), mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "strict.com"},
		{"strict: exact match aligns", "a@strict.com", spfFail("x.com"), dkim(mailauth.Pass, "strict.com"), mailauth.Pass, mailauth.PolicyReject, mailauth.Accept, "strict.com"},
		{"public suffix is no organization", "a@reject.com", spfPass("com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		// pct (RFC 7489 6.6.4), the random source returning 49.
		{"pct=0 downgrades reject to quarantine", "a@pct0.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Quarantine, "pct0.com"},
		{"pct=50 with 49 applies", "a@pct50.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyQuarantine, mailauth.Quarantine, "pct50.com"},
		// Errors.
		{"two DMARC records: no processing", "a@two.com", spfFail("x.com"), nil, mailauth.None, "", mailauth.Accept, "two.com"},
		{"other TXT records ignored", "a@other.com", spfFail("x.com"), nil, mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "other.com"},
		{"unusable record", "a@broken.com", spfFail("x.com"), nil, mailauth.PermError, "", mailauth.Accept, "broken.com"},
		{"dns failure", "a@flaky.com", spfFail("x.com"), nil, mailauth.TempError, "", mailauth.Accept, "flaky.com"},
		{"dns failure at org domain", "a@sub.flakyorg.com", spfFail("x.com"), nil, mailauth.TempError, "", mailauth.Accept, "flakyorg.com"},
		{"aligned dkim temperror", "a@reject.com", spfFail("x.com"), dkim(mailauth.TempError, "reject.com"), mailauth.TempError, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"aligned spf temperror", "a@reject.com", mailauth.SPFResult{Status: mailauth.TempError, Domain: "reject.com"}, nil, mailauth.TempError, mailauth.PolicyReject, mailauth.Accept, "reject.com"},
		{"unaligned dkim temperror is still a fail", "a@reject.com", spfFail("x.com"), dkim(mailauth.TempError, "x.com"), mailauth.Fail, mailauth.PolicyReject, mailauth.Reject, "reject.com"},
		{"two From addresses", "a@reject.com, b@reject.com", spfFail("x.com"), nil, mailauth.PermError, "", mailauth.Accept, ""},
		{"group without addresses", "undisclosed-recipients:;", spfFail("x.com"), nil, mailauth.PermError, "", mailauth.Accept, ""},
		{"unparseable From", "<<<", spfFail("x.com"), nil, mailauth.PermError, "", mailauth.Accept, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			raw := msg("hi\n", "From: "+tc.from, "Subject: x")
			got := c.DMARC(context.Background(), raw, tc.spf, tc.dkim)
			if got.Status != tc.want || got.Policy != tc.policy || got.Disposition != tc.dis || got.PolicyDomain != tc.policyAt {
				t.Errorf("DMARC = %s p=%q dis=%s at %q (%v), want %s p=%q dis=%s at %q",
					got.Status, got.Policy, got.Disposition, got.PolicyDomain, got.Err, tc.want, tc.policy, tc.dis, tc.policyAt)
			}
		})
	}
}

func TestDMARCPercentSampling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		domain string
		roll   int
		want   mailauth.Disposition
	}{
		{"pct50.com", 0, mailauth.Quarantine},
		{"pct50.com", 49, mailauth.Quarantine},
		{"pct50.com", 50, mailauth.Accept}, // not sampled: quarantine → none
		{"pct50.com", 99, mailauth.Accept},
		{"reject.com", 99, mailauth.Reject}, // pct=100 always applies
		{"pct0.com", 0, mailauth.Quarantine},
	} {
		c := newChecker(t, dmarcZone(), func(n int) int {
			if n != 100 {
				t.Errorf("Rand(%d), want Rand(100)", n)
			}
			return tc.roll
		})
		got := c.DMARC(context.Background(), plain(tc.domain), mailauth.SPFResult{Status: mailauth.Fail}, nil)
		if got.Disposition != tc.want {
			t.Errorf("%s with roll %d: disposition %s, want %s", tc.domain, tc.roll, got.Disposition, tc.want)
		}
	}
}

func TestDMARCFromFields(t *testing.T) {
	t.Parallel()
	c := newChecker(t, dmarcZone(), nil)
	for name, raw := range map[string][]byte{
		"no From":       msg("x\n", "Subject: x"),
		"two From":      msg("x\n", "From: a@reject.com", "From: b@reject.com"),
		"no domain":     msg("x\n", "From: alice"),
		"literal":       msg("x\n", "From: a@[192.0.2.1]"),
		"folded, two":   msg("x\n", "From: a@reject.com,", " b@other.com"),
		"lowercase two": msg("x\n", "from: a@reject.com", "FROM: b@reject.com"),
	} {
		if got := c.DMARC(context.Background(), raw, mailauth.SPFResult{}, nil); got.Status != mailauth.PermError {
			t.Errorf("%s: %s (%v), want permerror", name, got.Status, got.Err)
		}
	}
	// An internationalized From domain is looked up in A-label form.
	r := &mailauthtest.Resolver{}
	r.AddTXT("_dmarc.xn--bcher-kva.com", "v=DMARC1; p=reject")
	got := newChecker(t, r, nil).DMARC(context.Background(), msg("x\n", "From: a@Bücher.com"), mailauth.SPFResult{}, nil)
	if got.Status != mailauth.Fail || got.From != "xn--bcher-kva.com" || got.Disposition != mailauth.Reject {
		t.Errorf("IDN From: %+v", got)
	}
}
