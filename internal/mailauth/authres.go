package mailauth

import (
	"fmt"
	"strings"
)

// Status is an authentication result value (RFC 8601 2.7, RFC 7208 2.6).
type Status string

// Result values used by SPF, DKIM and DMARC.
const (
	None      Status = "none"
	Pass      Status = "pass"
	Fail      Status = "fail"
	SoftFail  Status = "softfail"
	Neutral   Status = "neutral"
	TempError Status = "temperror"
	PermError Status = "permerror"
)

const resultsField = "Authentication-Results"

// FormatResults returns a complete Authentication-Results header field
// (RFC 8601 2.2), folded one result per line and ending in CRLF, ready to be
// prepended to the message. authservID is our host name (RFC 8601 2.5).
func FormatResults(authservID string, spf SPFResult, dkims []DKIMResult, dmarc DMARCResult) string {
	var b strings.Builder
	b.WriteString(resultsField + ": " + quoteValue(authservID))

	// RFC 8601 2.7.2: spf with smtp.mailfrom, or smtp.helo when it was the
	// HELO identity that was checked (RFC 7208 2.4).
	b.WriteString(";\r\n\tspf=" + string(orNone(spf.Status)))
	if spf.Sender != "" {
		b.WriteString(" smtp." + spf.Identity + "=" + pvalue(spf.Sender))
	}

	// RFC 8601 2.7.1: one dkim result per signature; header.b (RFC 6008)
	// tells signatures from the same domain apart.
	if len(dkims) == 0 {
		b.WriteString(";\r\n\tdkim=none")
	}
	prefixes := sigPrefixes(dkims)
	for i, d := range dkims {
		b.WriteString(";\r\n\tdkim=" + string(orNone(d.Status)))
		if d.Status != Pass && d.Err != nil {
			b.WriteString(" reason=" + reason(d.Err))
		}
		for _, p := range [][2]string{
			{"header.d", d.Domain}, {"header.s", d.Selector}, {"header.a", d.Algorithm}, {"header.b", prefixes[i]},
		} {
			if p[1] != "" {
				b.WriteString(" " + p[0] + "=" + pvalue(p[1]))
			}
		}
	}

	// RFC 7489 11.2: dmarc with header.from. The comment records the policy
	// and what we did, as aggregate reports name them (p=, dis=).
	b.WriteString(";\r\n\tdmarc=" + string(orNone(dmarc.Status)))
	if (dmarc.Status == PermError || dmarc.Status == TempError) && dmarc.Err != nil {
		b.WriteString(" reason=" + reason(dmarc.Err))
	}
	if dmarc.Policy != "" {
		fmt.Fprintf(&b, " (p=%s dis=%s)", dmarc.Policy, dmarc.Disposition)
	}
	if dmarc.From != "" {
		b.WriteString(" header.from=" + pvalue(dmarc.From))
	}
	b.WriteString("\r\n")
	return b.String()
}

func orNone(s Status) Status {
	if s == "" {
		return None
	}
	return s
}

// sigPrefixes returns the header.b value of each signature: its first eight
// characters, more where needed to tell two signatures apart (RFC 6008 2).
func sigPrefixes(dkims []DKIMResult) []string {
	out := make([]string, len(dkims))
	for i, d := range dkims {
		n := min(8, len(d.Signature))
		for j, o := range dkims {
			if j == i {
				continue
			}
			for n < len(d.Signature) && strings.HasPrefix(o.Signature, d.Signature[:n]) {
				n++
			}
		}
		out[i] = d.Signature[:n]
	}
	return out
}

// reason formats an error as a reasonspec value (RFC 8601 2.2): printable
// ASCII only, bounded, always quoted. A ";" is legal in a quoted-string but
// naive parsers (go-msgauth's authres among them) split results on it, so
// it becomes ",".
func reason(err error) string {
	s := strings.TrimPrefix(err.Error(), "dkim: ")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == ';':
			return ','
		case r < ' ' || r > '~':
			return -1
		}
		return r
	}, s)
	if len(s) > 100 {
		s = s[:100]
	}
	return quoted(s)
}

// quoted returns s as a quoted-string (RFC 5322 3.2.4). Control characters
// are dropped: they have no place in a header field, and a CR or LF would
// let a value forge fields of its own.
func quoted(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// isToken reports whether s is an RFC 2045 token: no SPACE, CTLs or tspecials.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// quoteValue formats an RFC 8601 value: a token, else a quoted-string.
func quoteValue(s string) string {
	if isToken(s) {
		return s
	}
	return quoted(s)
}

// pvalue formats an RFC 8601 2.2 pvalue: a value, or an unquoted
// [local-part "@"] domain-name when it is one of plain dot-atoms.
func pvalue(s string) string {
	if isToken(s) {
		return s
	}
	local, domain, hasAt := strings.Cut(s, "@")
	if isDotAtom(domain) && (!hasAt || local == "" || isDotAtom(local)) {
		return s
	}
	return quoted(s)
}

// isDotAtom reports whether s is an RFC 5322 3.2.3 dot-atom-text.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) < 0 {
			return false
		}
	}
	return true
}
