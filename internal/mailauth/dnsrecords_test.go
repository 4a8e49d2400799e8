package mailauth_test

import (
	"crypto"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailauth"
)

// unquoteTXT decodes TXT RDATA in zone-file presentation format (RFC 1035
// 5.1): one or more quoted character-strings, each at most 255 bytes once
// decoded, with \X and \DDD escapes. It returns the strings joined, as a
// resolver would.
func unquoteTXT(t *testing.T, data string) string {
	t.Helper()
	var out strings.Builder
	s := data
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out.String()
		}
		if s[0] != '"' {
			t.Fatalf("TXT data %q: expected a quoted string at %q", data, s)
		}
		var one []byte
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			c := s[i]
			if c < ' ' || c > '~' {
				t.Fatalf("TXT data %q: raw byte %#x", data, c)
			}
			if c == '\\' {
				i++
				if i+2 < len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
					n, _ := strconv.Atoi(s[i : i+3])
					one = append(one, byte(n))
					i += 2
					continue
				}
				if i == len(s) {
					t.Fatalf("TXT data %q: trailing backslash", data)
				}
				c = s[i]
			}
			one = append(one, c)
		}
		if i == len(s) {
			t.Fatalf("TXT data %q: unterminated string", data)
		}
		if len(one) > 255 {
			t.Fatalf("TXT data %q: character-string of %d bytes", data, len(one))
		}
		out.Write(one)
		s = s[i+1:]
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func TestDNSRecords(t *testing.T) {
	t.Parallel()
	ed := edKey(t, mailauth.Selector(mailauth.Ed25519, month()))
	rsaKey, err := mailauth.GenerateKey(mailauth.RSA)
	if err != nil {
		t.Fatal(err)
	}
	rs := mailauth.Key{Selector: mailauth.Selector(mailauth.RSA, month()), Signer: rsaKey}
	records, err := mailauth.DNSRecords(mailauth.DNSConfig{
		Domain: "Example.COM", Host: "mail.example.com.", Keys: []mailauth.Key{ed, rs},
	})
	if err != nil {
		t.Fatal(err)
	}
	policy := mailauth.MTASTSPolicy(mailauth.DNSConfig{Domain: "example.com", Host: "mail.example.com"})
	want := []string{
		"example.com.\t3600\tIN\tMX\t10 mail.example.com.",
		`example.com.	3600	IN	TXT	"v=spf1 mx ~all"`,
		"gannet-ed25519-202603._domainkey.example.com.\t3600\tIN\tTXT\t",
		"gannet-rsa-202603._domainkey.example.com.\t3600\tIN\tTXT\t",
		`_dmarc.example.com.	3600	IN	TXT	"v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com"`,
		`_mta-sts.example.com.	3600	IN	TXT	"v=STSv1; id=` + mailauth.MTASTSID(policy) + `"`,
		"mta-sts.example.com.\t3600\tIN\tCNAME\tmail.example.com.",
		`_smtp._tls.example.com.	3600	IN	TXT	"v=TLSRPTv1; rua=mailto:postmaster@example.com"`,
		"_submissions._tcp.example.com.\t3600\tIN\tSRV\t0 1 465 mail.example.com.",
		"_submission._tcp.example.com.\t3600\tIN\tSRV\t10 1 587 mail.example.com.",
		"_imaps._tcp.example.com.\t3600\tIN\tSRV\t0 1 993 mail.example.com.",
		"_imap._tcp.example.com.\t3600\tIN\tSRV\t10 1 143 mail.example.com.",
		"_pop3s._tcp.example.com.\t3600\tIN\tSRV\t20 1 995 mail.example.com.",
		"_pop3._tcp.example.com.\t3600\tIN\tSRV\t30 1 110 mail.example.com.",
		"_autodiscover._tcp.example.com.\t3600\tIN\tSRV\t0 1 443 mail.example.com.",
		"autoconfig.example.com.\t3600\tIN\tCNAME\tmail.example.com.",
		"autodiscover.example.com.\t3600\tIN\tCNAME\tmail.example.com.",
	}
	if len(records) != len(want) {
		t.Fatalf("%d records, want %d:\n%v", len(records), len(want), records)
	}
	// A zone-file line: owner, TTL, class, type, RDATA (RFC 1035 5.1).
	line := regexp.MustCompile(`^([a-z0-9_.-]+\.)\t(\d+)\tIN\t(MX|TXT|SRV|CNAME)\t(.+)$`)
	for i, r := range records {
		s := r.String()
		if !strings.HasPrefix(s, want[i]) {
			t.Errorf("record %d:\n%s\nwant prefix\n%s", i, s, want[i])
		}
		m := line.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("record %q is not a zone-file line", s)
			continue
		}
		switch m[3] {
		case "TXT":
			unquoteTXT(t, m[4])
		case "MX", "CNAME", "SRV":
			if !strings.HasSuffix(m[4], ".") {
				t.Errorf("target in %q is not fully qualified", s)
			}
		}
	}
	// Each DKIM record parses back into its public key, for us and when
	// longer than one character-string (RSA).
	for i, k := range []mailauth.Key{ed, rs} {
		data := records[2+i].Data
		if k.Algorithm() == mailauth.RSA && strings.Count(data, `"`) < 4 {
			t.Errorf("RSA record not split into character-strings: %s", data)
		}
		txt := unquoteTXT(t, data)
		if want := fmt.Sprintf("v=DKIM1; k=%s; p=", k.Algorithm()); !strings.HasPrefix(txt, want) {
			t.Errorf("record %q does not start %q", txt, want)
		}
		pub, err := mailauth.ParseKeyRecord(txt)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Signer.Public()) {
			t.Errorf("%s record holds another key", k.Selector)
		}
	}
}

func TestDNSRecordsOptions(t *testing.T) {
	t.Parallel()
	records, err := mailauth.DNSRecords(mailauth.DNSConfig{
		Domain: "example.org", Host: "mx.example.net", SPFAll: "-all", DMARCPolicy: mailauth.PolicyReject,
		ReportAddress: "reports@example.net", MTASTSMode: "testing", MTASTSMaxAge: 24 * time.Hour, TTL: 300,
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, r := range records {
		all = append(all, r.String())
	}
	got := strings.Join(all, "\n")
	for _, want := range []string{
		`example.org.	300	IN	TXT	"v=spf1 mx -all"`,
		`_dmarc.example.org.	300	IN	TXT	"v=DMARC1; p=reject; rua=mailto:reports@example.net"`,
		`_smtp._tls.example.org.	300	IN	TXT	"v=TLSRPTv1; rua=mailto:reports@example.net"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	for _, bad := range []mailauth.DNSConfig{
		{Host: "mx.example.net"},
		{Domain: "example.org"},
		{Domain: "example.org", Host: "mx.example.net", SPFAll: "+all"},
		{Domain: "example.org", Host: "mx.example.net", DMARCPolicy: "discard"},
		{Domain: "example.org", Host: "mx.example.net", MTASTSMode: "on"},
		{Domain: "example.org", Host: "mx.example.net", ReportAddress: "a@b; p=none"},
		{Domain: "example.org", Host: "mx.example.net", Keys: []mailauth.Key{{Selector: "s"}}},
	} {
		if _, err := mailauth.DNSRecords(bad); err == nil {
			t.Errorf("DNSRecords(%+v) succeeded", bad)
		}
	}
}

func TestMTASTSPolicy(t *testing.T) {
	t.Parallel()
	cfg := mailauth.DNSConfig{Domain: "example.com", Host: "mail.example.com"}
	got := mailauth.MTASTSPolicy(cfg)
	want := "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n"
	if got != want {
		t.Errorf("policy %q, want %q", got, want)
	}
	id := mailauth.MTASTSID(got)
	if !regexp.MustCompile(`^[a-zA-Z0-9]{1,32}$`).MatchString(id) {
		t.Errorf("id %q is not 1-32 alphanumerics (RFC 8461 3.1)", id)
	}
	cfg.MTASTSMode = "testing"
	if other := mailauth.MTASTSID(mailauth.MTASTSPolicy(cfg)); other == id {
		t.Error("id unchanged after the policy changed")
	}
}

func TestTXTData(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 600)
	for _, in := range []string{"", "v=spf1 -all", `quote " and \ backslash`, "tab\there\x00\xff", long} {
		data := mailauth.TXTData(in)
		if got := unquoteTXT(t, data); got != in {
			t.Errorf("TXTData(%q) = %s decodes to %q", in, data, got)
		}
	}
	if n := strings.Count(mailauth.TXTData(long), `"`); n != 6 {
		t.Errorf("600 bytes in %d quoted strings, want 3", n/2)
	}
}
