package mailauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// MaxSignatures is how many DKIM-Signature fields are verified by default;
// later ones are ignored (RFC 6376 6.1 lets a verifier limit the work an
// attacker can cause; issue 7 sets five).
const MaxSignatures = 5

// DKIMResult is the verification outcome of one DKIM-Signature field.
type DKIMResult struct {
	// Status is pass; fail (bad signature or body hash); permerror
	// (malformed signature, missing or revoked key, RFC 6376 6.1.2 PERMFAIL);
	// or temperror (key lookup failed temporarily, RFC 6376 6.1.2 TEMPFAIL).
	Status     Status
	Domain     string // d=, the SDID (lower-case)
	Selector   string // s=
	Algorithm  string // a=, e.g. "ed25519-sha256"
	Identifier string // i=, the AUID, "" when absent
	Signature  string // b=, whitespace removed; header.b takes a prefix of it (RFC 6008)
	Err        error  // why it did not pass, for logs and the A-R reason
}

// DKIM verifies the DKIM signatures of a message (RFC 6376 6), at most
// Options.MaxSignatures of them, in header order. A message without
// signatures yields no results (dkim=none in Authentication-Results).
func (c *Checker) DKIM(ctx context.Context, raw []byte) []DKIMResult {
	sigs := signatureFields(raw, c.maxSigs)
	if len(sigs) == 0 {
		return nil
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		LookupTXT:        c.dns.dkimLookup(ctx),
		MaxVerifications: c.maxSigs,
	})
	if errors.Is(err, dkim.ErrTooManySignatures) {
		err = nil // the rest are ignored, as intended
	}
	if len(verifs) != len(sigs) {
		// The header could not be read (go-msgauth needs the empty line
		// that ends it): every signature is unverifiable for good.
		if err == nil {
			err = errors.New("signatures could not be matched to verifications")
		}
		results := make([]DKIMResult, len(sigs))
		for i, tags := range sigs {
			results[i] = resultFromTags(tags)
			results[i].Status = PermError
			results[i].Err = fmt.Errorf("dkim: %w", err)
		}
		return results
	}
	results := make([]DKIMResult, len(sigs))
	for i, v := range verifs {
		r := &results[i]
		*r = resultFromTags(sigs[i])
		if v.Domain != "" {
			r.Domain = strings.ToLower(v.Domain)
		}
		switch {
		case v.Err == nil && err == nil:
			r.Status = Pass
		case v.Err == nil:
			// go-msgauth reports an unexpected (I/O) failure of one
			// verification this way without saying which: pass nothing.
			r.Status, r.Err = TempError, err
		case dkim.IsTempFail(v.Err):
			r.Status, r.Err = TempError, v.Err
		case dkim.IsPermFail(v.Err):
			r.Status, r.Err = PermError, v.Err
		default:
			r.Status, r.Err = Fail, v.Err
		}
	}
	return results
}

// signatureFields returns the tag lists of the first limit DKIM-Signature
// fields, matched the way go-msgauth matches them (name trimmed, compared
// case-insensitively) so that the i-th one describes its i-th verification.
func signatureFields(raw []byte, limit int) []map[string]string {
	fields, _ := splitHeader(raw)
	var sigs []map[string]string
	for _, f := range fields {
		if len(sigs) == limit {
			break
		}
		name, _, _ := strings.Cut(string(f.raw), ":")
		if strings.EqualFold(strings.TrimSpace(name), "DKIM-Signature") {
			sigs = append(sigs, parseTags(f.value()))
		}
	}
	return sigs
}

func resultFromTags(tags map[string]string) DKIMResult {
	return DKIMResult{
		Domain:     strings.ToLower(tags["d"]),
		Selector:   tags["s"],
		Algorithm:  strings.ToLower(tags["a"]),
		Identifier: tags["i"],
		Signature:  tags["b"],
	}
}

// parseTags parses a DKIM tag-list (RFC 6376 3.2) leniently, for reporting
// only: verification parses it again strictly. Whitespace inside values is
// removed, as RFC 6376 3.5 allows folding in base64 and tag lists.
func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, spec := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(spec, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; dup {
			continue
		}
		tags[k] = strings.Map(func(r rune) rune {
			if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, v)
	}
	return tags
}
