package mailauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record is one DNS resource record to publish, in zone-file terms.
type Record struct {
	Name string // owner, fully qualified with the trailing dot
	TTL  int    // seconds
	Type string // MX, TXT, SRV or CNAME
	Data string // RDATA in presentation format (RFC 1035 5.1); TXT already quoted
}

// String formats the record as a zone-file line (RFC 1035 5.1).
func (r Record) String() string {
	return fmt.Sprintf("%s\t%d\tIN\t%s\t%s", r.Name, r.TTL, r.Type, r.Data)
}

// DNSConfig describes a mail domain for DNSRecords.
type DNSConfig struct {
	Domain string // the mail domain, e.g. example.com
	Host   string // our server's host name (MX target, SRV target), e.g. mail.example.com
	Keys   []Key  // DKIM keys whose public halves are published
	// SPFAll is the SPF record's final "all": "~all" (softfail, the
	// default) or "-all" (fail) once every sender of the domain is known.
	SPFAll string
	// DMARCPolicy is p=; PolicyQuarantine when empty.
	DMARCPolicy Policy
	// ReportAddress receives DMARC aggregate (rua) and TLS-RPT reports;
	// postmaster@Domain (RFC 2142) when empty.
	ReportAddress string
	// MTASTSMode is "enforce" (default), "testing" or "none" (RFC 8461 5).
	MTASTSMode string
	// MTASTSMaxAge is the policy lifetime; one week when zero (RFC 8461
	// 3.2 recommends weeks).
	MTASTSMaxAge time.Duration
	// TTL of every record; one hour when zero.
	TTL int
}

func (c DNSConfig) withDefaults() (DNSConfig, error) {
	var err error
	if c.Domain, err = normalizeDomain(c.Domain); err != nil {
		return c, fmt.Errorf("dns records: domain: %w", err)
	}
	if c.Host, err = normalizeDomain(c.Host); err != nil {
		return c, fmt.Errorf("dns records: host: %w", err)
	}
	if c.SPFAll == "" {
		c.SPFAll = "~all"
	}
	if c.SPFAll != "~all" && c.SPFAll != "-all" {
		return c, fmt.Errorf("dns records: SPF all %q, want ~all or -all", c.SPFAll)
	}
	if c.DMARCPolicy == "" {
		c.DMARCPolicy = PolicyQuarantine
	}
	if _, ok := parsePolicy(string(c.DMARCPolicy)); !ok {
		return c, fmt.Errorf("dns records: DMARC policy %q", c.DMARCPolicy)
	}
	if c.ReportAddress == "" {
		c.ReportAddress = "postmaster@" + c.Domain
	}
	if strings.ContainsAny(c.ReportAddress, " \t\r\n\";,!") || !strings.Contains(c.ReportAddress, "@") {
		return c, fmt.Errorf("dns records: report address %q", c.ReportAddress)
	}
	if c.MTASTSMode == "" {
		c.MTASTSMode = "enforce"
	}
	if c.MTASTSMode != "enforce" && c.MTASTSMode != "testing" && c.MTASTSMode != "none" {
		return c, fmt.Errorf("dns records: MTA-STS mode %q", c.MTASTSMode)
	}
	if c.MTASTSMaxAge == 0 {
		c.MTASTSMaxAge = 7 * 24 * time.Hour
	}
	if c.MTASTSMaxAge < time.Second || c.MTASTSMaxAge > 31557600*time.Second {
		return c, fmt.Errorf("dns records: MTA-STS max_age %v out of range (RFC 8461 3.2)", c.MTASTSMaxAge)
	}
	if c.TTL == 0 {
		c.TTL = 3600
	}
	return c, nil
}

// DNSRecords returns every record a domain served by Gannet publishes: MX;
// SPF; each DKIM key; DMARC; MTA-STS (TXT, plus the mta-sts host that
// serves the policy file); TLS-RPT; the RFC 6186 SRV records that let
// mail clients configure themselves, and Outlook's; and the autoconfig and
// autodiscover hosts that serve client settings over HTTPS.
func DNSRecords(cfg DNSConfig) ([]Record, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d, host := c.Domain+".", c.Host+"."
	rec := func(name, typ, data string) Record {
		return Record{Name: name, TTL: c.TTL, Type: typ, Data: data}
	}
	rs := []Record{
		rec(d, "MX", "10 "+host),
		// RFC 7208 5.4: our MX hosts are the domain's only outbound relays.
		rec(d, "TXT", TXTData("v=spf1 mx "+c.SPFAll)),
	}
	for _, k := range c.Keys {
		if k.Selector == "" || k.Signer == nil {
			return nil, errors.New("dns records: DKIM key without selector or key")
		}
		txt, err := KeyRecord(k.Signer.Public())
		if err != nil {
			return nil, fmt.Errorf("dns records: selector %s: %w", k.Selector, err)
		}
		// RFC 6376 3.6.2.1: <selector>._domainkey.<domain>.
		rs = append(rs, rec(k.Selector+"._domainkey."+d, "TXT", TXTData(txt)))
	}
	dmarc := DMARCRecord{Policy: c.DMARCPolicy, Percent: 100, ReportAggregate: []string{"mailto:" + c.ReportAddress}}
	rs = append(rs,
		// RFC 7489 6.1.
		rec("_dmarc."+d, "TXT", TXTData(dmarc.String())),
		// RFC 8461 3.1; the policy file is served over HTTPS by mta-sts.<domain>.
		rec("_mta-sts."+d, "TXT", TXTData("v=STSv1; id="+MTASTSID(MTASTSPolicy(c)))),
		rec("mta-sts."+d, "CNAME", host),
		// RFC 8460 3.
		rec("_smtp._tls."+d, "TXT", TXTData("v=TLSRPTv1; rua=mailto:"+c.ReportAddress)),
	)
	// RFC 6186 3 with RFC 8314 5.1: implicit TLS preferred (lower priority
	// value) over STARTTLS, and IMAP over POP3 (RFC 6186 3.4).
	for _, s := range []struct {
		service  string
		priority int
		port     int
	}{
		{"_submissions", 0, 465}, {"_submission", 10, 587},
		{"_imaps", 0, 993}, {"_imap", 10, 143},
		{"_pop3s", 20, 995}, {"_pop3", 30, 110},
		// Outlook asks this one when https://autodiscover.<domain> does not
		// answer ([MS-OXDSCLI] 3.1.5.2); the host's certificate covers it.
		{"_autodiscover", 0, 443},
	} {
		rs = append(rs, rec(s.service+"._tcp."+d, "SRV", fmt.Sprintf("%d 1 %d %s", s.priority, s.port, host)))
	}
	// The names mail clients fetch their settings from over HTTPS
	// (Thunderbird's autoconfig, Outlook's Autodiscover), served by the
	// host like mta-sts above.
	rs = append(rs,
		rec("autoconfig."+d, "CNAME", host),
		rec("autodiscover."+d, "CNAME", host),
	)
	return rs, nil
}

// MTASTSPolicy returns the policy file served at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.2), CRLF
// line endings. Invalid configurations yield "".
func MTASTSPolicy(cfg DNSConfig) string {
	c, err := cfg.withDefaults()
	if err != nil {
		return ""
	}
	return fmt.Sprintf("version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: %d\r\n",
		c.MTASTSMode, c.Host, int64(c.MTASTSMaxAge/time.Second))
}

// MTASTSID derives the _mta-sts id= from the policy text (RFC 8461 3.1: 1 to
// 32 alphanumerics that change whenever the policy does). A digest changes
// exactly when the policy does, so republishing an unchanged policy does not
// make every sender fetch it again.
func MTASTSID(policy string) string {
	sum := sha256.Sum256([]byte(policy))
	return hex.EncodeToString(sum[:10])
}

// TXTData formats text as TXT RDATA: quoted character-strings of at most 255
// bytes each (RFC 1035 3.3.14, 5.1), with quotes and backslashes escaped
// and other bytes outside printable ASCII written as \DDD.
// Resolvers join the strings back into one (RFC 7208 3.3, RFC 6376 3.6.2.2).
func TXTData(text string) string {
	var parts []string
	for {
		n := min(255, len(text))
		chunk := text[:n]
		var b strings.Builder
		b.WriteByte('"')
		for i := 0; i < len(chunk); i++ {
			switch c := chunk[i]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < ' ' || c > '~':
				fmt.Fprintf(&b, "\\%03d", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		parts = append(parts, b.String())
		text = text[n:]
		if text == "" {
			return strings.Join(parts, " ")
		}
	}
}
