package mailauth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Disposition is what the receiver does with a message after DMARC
// (RFC 7489 6.6.4), the "dis=" of aggregate reports.
type Disposition int

// Dispositions, from the most lenient.
const (
	Accept     Disposition = iota // deliver normally
	Quarantine                    // deliver to the Junk mailbox
	Reject                        // refuse at end of DATA with 550 5.7.1
)

// String returns the RFC 7489 name of the disposition ("none" for Accept).
func (d Disposition) String() string {
	switch d {
	case Quarantine:
		return "quarantine"
	case Reject:
		return "reject"
	}
	return "none"
}

// DMARCResult is the outcome of DMARC evaluation for one message.
type DMARCResult struct {
	// Status is pass, fail, none (no policy published, RFC 7489 6.6.3),
	// temperror (DNS failure, or an aligned check that failed temporarily)
	// or permerror (no single From domain, or an unusable record).
	Status Status
	// From is the RFC5322.From domain (lower-case, A-labels); "" if there is
	// no single one.
	From string
	// PolicyDomain is where the record was found: From, or its
	// organizational domain.
	PolicyDomain string
	// Record is the policy record in effect, nil when none was found.
	Record *DMARCRecord
	// Policy is the requested policy for From: sp= when the record came from
	// the organizational domain and has one, p= otherwise; "" without record.
	Policy Policy
	// SPFAligned and DKIMAligned say which mechanism produced an aligned
	// pass (RFC 7489 3.1); DMARC passes if either did.
	SPFAligned, DKIMAligned bool
	// Disposition is the action to take: Policy applied to a failing message
	// if pct sampling selected it, the next lesser policy if not.
	Disposition Disposition
	// Err explains none, temperror and permerror, for logs.
	Err error
}

// OrgDomain returns the organizational domain of a lower-case domain name
// (RFC 7489 3.2): the public suffix plus one label, according to the Public
// Suffix List in golang.org/x/net/publicsuffix. A name that is itself a
// public suffix (or has a single label) is its own organizational domain.
func OrgDomain(domain string) string {
	domain = strings.TrimSuffix(domain, ".")
	org, err := publicsuffix.EffectiveTLDPlusOne(domain)
	if err != nil {
		return domain
	}
	return org
}

// aligned compares an authenticated domain with the From domain in the
// given mode (RFC 7489 3.1.1, 3.1.2): strict needs the same name, relaxed
// the same organizational domain. Both are lower-case.
func aligned(mode Alignment, id, from string) bool {
	if id == "" || from == "" {
		return false
	}
	if id == from {
		return true
	}
	return mode != Strict && OrgDomain(id) == OrgDomain(from)
}

// DMARC evaluates the From domain's DMARC policy (RFC 7489 6.6) against the
// SPF and DKIM results already computed for the message.
func (c *Checker) DMARC(ctx context.Context, raw []byte, spf SPFResult, dkims []DKIMResult) DMARCResult {
	fields, _ := splitHeader(raw)
	from, err := fromDomain(fields)
	if err != nil {
		// RFC 7489 6.6.1: without exactly one author domain DMARC cannot
		// be applied.
		return DMARCResult{Status: PermError, Err: fmt.Errorf("dmarc: %w", err)}
	}
	res := DMARCResult{From: from}

	// RFC 7489 6.6.3: the From domain's record, else the organizational
	// domain's.
	rec, err := c.lookupDMARC(ctx, from)
	res.PolicyDomain = from
	if errors.Is(err, errNoRecord) {
		if org := OrgDomain(from); org != from {
			rec, err = c.lookupDMARC(ctx, org)
			res.PolicyDomain = org
		}
	}
	switch {
	case errors.Is(err, errNoRecord):
		res.Status, res.PolicyDomain, res.Err = None, "", err
		return res
	case errors.Is(err, errManyRecords):
		res.Status, res.Err = None, err // RFC 7489 6.6.3 step 5: no processing
		return res
	case err != nil:
		res.Status, res.Err = PermError, err
		var te tempError
		if errors.As(err, &te) {
			res.Status = TempError
		}
		return res
	}
	res.Record = &rec
	res.Policy = rec.Policy
	if res.PolicyDomain != from && rec.SubdomainPolicy != "" {
		res.Policy = rec.SubdomainPolicy // RFC 7489 6.3 sp
	}

	// RFC 7489 4.2: pass if SPF or DKIM passed for an aligned identifier.
	res.SPFAligned = spf.Status == Pass && aligned(rec.SPFAlignment, spf.Domain, from)
	var dkimTemp bool
	for _, d := range dkims {
		if !aligned(rec.DKIMAlignment, d.Domain, from) {
			continue
		}
		switch d.Status {
		case Pass:
			res.DKIMAligned = true
		case TempError:
			dkimTemp = true
		}
	}
	if res.SPFAligned || res.DKIMAligned {
		res.Status = Pass
		return res
	}
	// A failure that a retry might turn into a pass is not a failure: RFC
	// 7489 6.7 leaves enforcement to the receiver, and rejecting mail over a
	// transient DNS problem is the one error we must not make.
	if dkimTemp || (spf.Status == TempError && aligned(rec.SPFAlignment, spf.Domain, from)) {
		res.Status, res.Err = TempError, errors.New("dmarc: an aligned check failed temporarily")
		return res
	}
	res.Status = Fail
	res.Disposition = c.dispose(res.Policy, rec.Percent)
	return res
}

// dispose applies the policy to a failing message. RFC 7489 6.6.4: when pct
// sampling does not select the message, the next less strict policy applies
// (reject becomes quarantine, quarantine becomes none).
func (c *Checker) dispose(p Policy, pct int) Disposition {
	d := Accept
	switch p {
	case PolicyReject:
		d = Reject
	case PolicyQuarantine:
		d = Quarantine
	}
	if d == Accept || pct >= 100 {
		return d
	}
	if pct > 0 && c.rand(100) < pct {
		return d
	}
	return d - 1
}

// Policy discovery outcomes that mean "no DMARC processing" (RFC 7489 6.6.3).
var (
	errNoRecord    = errors.New("dmarc: no policy record")
	errManyRecords = errors.New("dmarc: more than one policy record")
)

// tempError marks a temporary DNS failure during policy discovery.
type tempError struct{ err error }

func (e tempError) Error() string { return e.err.Error() }
func (e tempError) Unwrap() error { return e.err }

// lookupDMARC fetches and parses the record at _dmarc.<domain> (RFC 7489
// 6.1). It returns errNoRecord when there is none, errManyRecords when
// several are published (6.6.3 step 5), a tempError on DNS failure, and a
// parse error for an unusable record.
func (c *Checker) lookupDMARC(ctx context.Context, domain string) (DMARCRecord, error) {
	name := "_dmarc." + domain
	txts, err := c.dns.r.LookupTXT(ctx, name)
	if err != nil {
		if c.dns.isNotFound(err) {
			return DMARCRecord{}, fmt.Errorf("%w at %s", errNoRecord, name)
		}
		return DMARCRecord{}, tempError{fmt.Errorf("dmarc: lookup %s: %w", name, err)}
	}
	var records []string
	for _, t := range txts {
		if isDMARC(t) {
			records = append(records, t)
		}
	}
	switch len(records) {
	case 0:
		return DMARCRecord{}, fmt.Errorf("%w at %s", errNoRecord, name)
	case 1:
	default:
		return DMARCRecord{}, fmt.Errorf("%w at %s: %d", errManyRecords, name, len(records))
	}
	rec, err := ParseDMARC(records[0])
	if err != nil {
		return DMARCRecord{}, fmt.Errorf("record at %s: %w", name, err)
	}
	return rec, nil
}
