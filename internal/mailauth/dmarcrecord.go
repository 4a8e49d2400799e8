package mailauth

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Policy is a DMARC requested mail receiver policy (RFC 7489 6.3, p= and sp=).
type Policy string

// The policies of RFC 7489 6.3.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Alignment is a DMARC identifier alignment mode (RFC 7489 3.1, adkim= and aspf=).
type Alignment string

// The alignment modes of RFC 7489 3.1.
const (
	Relaxed Alignment = "r"
	Strict  Alignment = "s"
)

// DMARCRecord is a parsed DMARC policy record (RFC 7489 6.3).
type DMARCRecord struct {
	Policy          Policy    // p=
	SubdomainPolicy Policy    // sp=; "" when absent, and then p applies to subdomains
	Percent         int       // pct=, 0 to 100; 100 when absent
	DKIMAlignment   Alignment // adkim=; Relaxed when absent
	SPFAlignment    Alignment // aspf=; Relaxed when absent
	ReportAggregate []string  // rua=, the URIs as written
	ReportFailure   []string  // ruf=, the URIs as written
}

// errNotDMARC says a TXT record is not a DMARC record at all; discovery
// skips such records (RFC 7489 6.6.3 step 3).
var errNotDMARC = errors.New("not a DMARC record")

// isDMARC reports whether txt starts with the version tag "v=DMARC1", which
// RFC 7489 6.3 requires first and matched precisely.
func isDMARC(txt string) bool {
	first, _, _ := strings.Cut(txt, ";")
	k, v, ok := strings.Cut(first, "=")
	return ok && strings.TrimSpace(k) == "v" && strings.TrimSpace(v) == "DMARC1"
}

// ParseDMARC parses a DMARC record (RFC 7489 6.3, grammar in 6.4). Tag names
// and policy keywords are case-insensitive (ABNF literals); unknown tags are
// ignored. RFC 7489 6.3: syntax errors in optional tags fall back to their
// defaults. RFC 7489 6.6.3 step 6: a missing or invalid p= (or an invalid
// sp=) makes the record p=none if rua= holds a valid URI, and is an error
// otherwise.
func ParseDMARC(txt string) (DMARCRecord, error) {
	if !isDMARC(txt) {
		return DMARCRecord{}, errNotDMARC
	}
	tags := map[string]string{}
	for i, spec := range strings.Split(txt, ";") {
		if i == 0 {
			continue // the version tag
		}
		k, v, ok := strings.Cut(spec, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			continue // an empty spec after a trailing ";", or a syntax error (6.3)
		}
		if _, dup := tags[k]; !dup {
			tags[k] = strings.TrimSpace(v)
		}
	}
	rec := DMARCRecord{
		Percent:         100,
		DKIMAlignment:   Relaxed,
		SPFAlignment:    Relaxed,
		ReportAggregate: uriList(tags["rua"]),
		ReportFailure:   uriList(tags["ruf"]),
	}
	p, pOK := parsePolicy(tags["p"])
	sp, spOK := parsePolicy(tags["sp"])
	if _, present := tags["sp"]; !present {
		sp, spOK = "", true
	}
	if !pOK || !spOK {
		if !validURI(rec.ReportAggregate) {
			return DMARCRecord{}, fmt.Errorf("dmarc: invalid policy p=%q sp=%q and no valid rua", tags["p"], tags["sp"])
		}
		p, sp = PolicyNone, ""
	}
	rec.Policy, rec.SubdomainPolicy = p, sp
	if a, ok := parseAlignment(tags["adkim"]); ok {
		rec.DKIMAlignment = a
	}
	if a, ok := parseAlignment(tags["aspf"]); ok {
		rec.SPFAlignment = a
	}
	if n, err := strconv.Atoi(tags["pct"]); err == nil && n >= 0 && n <= 100 {
		rec.Percent = n
	}
	return rec, nil
}

func parsePolicy(s string) (Policy, bool) {
	switch p := Policy(strings.ToLower(s)); p {
	case PolicyNone, PolicyQuarantine, PolicyReject:
		return p, true
	}
	return "", false
}

func parseAlignment(s string) (Alignment, bool) {
	switch a := Alignment(strings.ToLower(s)); a {
	case Relaxed, Strict:
		return a, true
	}
	return "", false
}

// uriList splits a DMARC URI list (RFC 7489 6.4: dmarc-uri *(*WSP "," *WSP dmarc-uri)).
func uriList(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// validURI reports whether at least one of uris is a syntactically valid
// absolute URI (RFC 7489 6.4 dmarc-uri, size limit suffix "!10m" allowed).
func validURI(uris []string) bool {
	for _, u := range uris {
		if i := strings.LastIndexByte(u, '!'); i > 0 {
			u = u[:i]
		}
		if p, err := url.Parse(u); err == nil && p.Scheme != "" && p.Opaque+p.Host+p.Path != "" {
			return true
		}
	}
	return false
}

// String formats the record as it would be published.
func (r DMARCRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v=DMARC1; p=%s", r.Policy)
	if r.SubdomainPolicy != "" {
		fmt.Fprintf(&b, "; sp=%s", r.SubdomainPolicy)
	}
	if r.Percent != 100 {
		fmt.Fprintf(&b, "; pct=%d", r.Percent)
	}
	if r.DKIMAlignment == Strict {
		b.WriteString("; adkim=s")
	}
	if r.SPFAlignment == Strict {
		b.WriteString("; aspf=s")
	}
	if len(r.ReportAggregate) > 0 {
		fmt.Fprintf(&b, "; rua=%s", strings.Join(r.ReportAggregate, ","))
	}
	if len(r.ReportFailure) > 0 {
		fmt.Fprintf(&b, "; ruf=%s", strings.Join(r.ReportFailure, ","))
	}
	return b.String()
}
