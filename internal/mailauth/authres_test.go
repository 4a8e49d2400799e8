package mailauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/authres"

	"gannet/internal/mailauth"
)

func TestFormatResults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spf   mailauth.SPFResult
		dkim  []mailauth.DKIMResult
		dmarc mailauth.DMARCResult
		want  string
	}{
		{
			name:  "all pass",
			spf:   mailauth.SPFResult{Status: mailauth.Pass, Identity: "mailfrom", Sender: "alice@example.com"},
			dkim:  []mailauth.DKIMResult{{Status: mailauth.Pass, Domain: "example.com", Selector: "s1", Algorithm: "ed25519-sha256", Signature: "AbCdEfGhIjKl"}},
			dmarc: mailauth.DMARCResult{Status: mailauth.Pass, From: "example.com", Policy: mailauth.PolicyReject},
			want: "Authentication-Results: mx.gannet.test;\r\n" +
				"\tspf=pass smtp.mailfrom=alice@example.com;\r\n" +
				"\tdkim=pass header.d=example.com header.s=s1 header.a=ed25519-sha256 header.b=AbCdEfGh;\r\n" +
				"\tdmarc=pass (p=reject dis=none) header.from=example.com\r\n",
		},
		{
			name:  "nothing",
			spf:   mailauth.SPFResult{Status: mailauth.None, Identity: "helo", Sender: "client.example"},
			dmarc: mailauth.DMARCResult{Status: mailauth.None, From: "example.com"},
			want: "Authentication-Results: mx.gannet.test;\r\n" +
				"\tspf=none smtp.helo=client.example;\r\n" +
				"\tdkim=none;\r\n" +
				"\tdmarc=none header.from=example.com\r\n",
		},
		{
			name: "failures",
			spf:  mailauth.SPFResult{Status: mailauth.SoftFail, Identity: "mailfrom", Sender: `"odd local"@example.com`},
			dkim: []mailauth.DKIMResult{
				{Status: mailauth.Fail, Domain: "example.com", Selector: "s1", Algorithm: "rsa-sha256", Signature: "ab/+cd==xyz1", Err: errors.New(`dkim: body hash did not verify`)},
				{Status: mailauth.PermError, Domain: "example.com", Selector: "s2", Algorithm: "rsa-sha256", Signature: "ab/+cd==xyz2", Err: errors.New("dkim: no key for signature: \"x\"\r\n")},
			},
			dmarc: mailauth.DMARCResult{Status: mailauth.Fail, From: "example.com", Policy: mailauth.PolicyQuarantine, Disposition: mailauth.Quarantine},
			want: "Authentication-Results: mx.gannet.test;\r\n" +
				"\tspf=softfail smtp.mailfrom=\"\\\"odd local\\\"@example.com\";\r\n" +
				"\tdkim=fail reason=\"body hash did not verify\" header.d=example.com header.s=s1 header.a=rsa-sha256 header.b=\"ab/+cd==xyz1\";\r\n" +
				"\tdkim=permerror reason=\"no key for signature: \\\"x\\\"\" header.d=example.com header.s=s2 header.a=rsa-sha256 header.b=\"ab/+cd==xyz2\";\r\n" +
				"\tdmarc=fail (p=quarantine dis=quarantine) header.from=example.com\r\n",
		},
		{
			name:  "dmarc permerror, no From",
			spf:   mailauth.SPFResult{Status: mailauth.TempError, Identity: "mailfrom", Sender: "a@b.example"},
			dmarc: mailauth.DMARCResult{Status: mailauth.PermError, Err: errors.New("dmarc: more than one From header field")},
			want: "Authentication-Results: mx.gannet.test;\r\n" +
				"\tspf=temperror smtp.mailfrom=a@b.example;\r\n" +
				"\tdkim=none;\r\n" +
				"\tdmarc=permerror reason=\"dmarc: more than one From header field\"\r\n",
		},
		{
			name:  "dmarc reject",
			spf:   mailauth.SPFResult{Status: mailauth.Fail, Identity: "mailfrom", Sender: "x@evil.example"},
			dmarc: mailauth.DMARCResult{Status: mailauth.Fail, From: "bank.example", Policy: mailauth.PolicyReject, Disposition: mailauth.Reject},
			want: "Authentication-Results: mx.gannet.test;\r\n" +
				"\tspf=fail smtp.mailfrom=x@evil.example;\r\n" +
				"\tdkim=none;\r\n" +
				"\tdmarc=fail (p=reject dis=reject) header.from=bank.example\r\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := mailauth.FormatResults(hostname, tc.spf, tc.dkim, tc.dmarc)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			checkParses(t, got)
		})
	}
}

// checkParses checks a formatted field with an independent parser.
func checkParses(t *testing.T, field string) {
	t.Helper()
	name, value, ok := strings.Cut(field, ":")
	if !ok || name != "Authentication-Results" || !strings.HasSuffix(value, "\r\n") {
		t.Fatalf("not a header field: %q", field)
	}
	for _, line := range strings.Split(strings.TrimSuffix(value, "\r\n"), "\r\n")[1:] {
		if !strings.HasPrefix(line, "\t") {
			t.Errorf("continuation line %q does not start with WSP", line)
		}
	}
	id, results, err := authres.Parse(strings.ReplaceAll(value, "\r\n", ""))
	if err != nil || id != hostname || len(results) < 3 {
		t.Errorf("authres.Parse = %q, %d results, %v", id, len(results), err)
	}
}

// TestHeaderBPrefixIsUnique checks RFC 6008 2: when two signatures share
// their first eight characters, header.b grows until it tells them apart.
func TestHeaderBPrefixIsUnique(t *testing.T) {
	t.Parallel()
	got := mailauth.FormatResults(hostname, mailauth.SPFResult{Status: mailauth.None},
		[]mailauth.DKIMResult{
			{Status: mailauth.Pass, Domain: "x.test", Signature: "AAAAAAAAAAb1"},
			{Status: mailauth.Pass, Domain: "x.test", Signature: "AAAAAAAAAAb2"},
			{Status: mailauth.Pass, Domain: "x.test", Signature: "ZZZZZZZZZZZZ"},
		}, mailauth.DMARCResult{Status: mailauth.None})
	for _, want := range []string{"header.b=AAAAAAAAAAb1;", "header.b=AAAAAAAAAAb2;", "header.b=ZZZZZZZZ;"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}

// TestFormatResultsNoInjection checks that values from the SMTP session or
// the message cannot add lines to the field.
func TestFormatResultsNoInjection(t *testing.T) {
	t.Parallel()
	got := mailauth.FormatResults("mx.gannet.test",
		mailauth.SPFResult{Status: mailauth.Pass, Identity: "mailfrom", Sender: "a\r\nX-Evil: 1@x.test"},
		[]mailauth.DKIMResult{{Status: mailauth.Fail, Domain: "x.test\r\nX-Evil: 2", Selector: "s\n", Err: errors.New("bad\r\nX-Evil: 3")}},
		mailauth.DMARCResult{Status: mailauth.PermError, From: "x.test\rX-Evil: 4", Err: errors.New("\nX-Evil: 5")})
	if n := strings.Count(got, "\r\n"); n != 4 || strings.Count(got, "\n") != 4 || strings.Count(got, "\r") != 4 || strings.Contains(got, "\r\tX") || strings.Contains(got, "\nX-Evil") {
		t.Errorf("control characters leaked:\n%q", got)
	}
	checkParses(t, got)
}
