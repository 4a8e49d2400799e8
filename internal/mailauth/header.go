package mailauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"

	"golang.org/x/net/idna"
)

// field is one header field exactly as received (RFC 5322 2.2): its first line
// and any continuation lines, each with its line ending.
type field struct {
	raw  []byte
	name string // before the colon, WSP trimmed (RFC 5322 4.5 allows WSP there); "" if none
}

// value returns the field body after the colon, unfolded (RFC 5322 2.2.3):
// line breaks removed, the whitespace that followed them kept.
func (f field) value() string {
	i := bytes.IndexByte(f.raw, ':')
	if i < 0 {
		return ""
	}
	v := f.raw[i+1:]
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return string(v)
}

// splitHeader splits a message into its header fields and the offset where
// the header ends: the start of the empty line that separates the body, or
// len(raw) if there is none. Both CRLF and bare LF line endings are accepted.
// Concatenating the fields' raw bytes and raw[end:] gives raw back.
func splitHeader(raw []byte) (fields []field, end int) {
	pos := 0
	for pos < len(raw) {
		line := raw[pos:]
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		if isBlankLine(line) {
			return fields, pos
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			// A continuation line (RFC 5322 2.2.3) belongs to the field above.
			last := &fields[len(fields)-1]
			last.raw = raw[pos-len(last.raw) : pos+len(line)]
		} else {
			fields = append(fields, field{raw: line, name: fieldName(line)})
		}
		pos += len(line)
	}
	return fields, len(raw)
}

func isBlankLine(line []byte) bool {
	return string(line) == "\r\n" || string(line) == "\n"
}

// fieldName returns the name of a field's first line, or "" if the line has
// no colon or its name contains characters RFC 5322 3.6.8 does not allow.
func fieldName(line []byte) string {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return ""
	}
	name := bytes.TrimRight(line[:i], " \t")
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return ""
		}
	}
	return string(name)
}

// fieldsNamed returns the fields called name (case-insensitive, RFC 5322 1.2.2).
func fieldsNamed(fields []field, name string) []field {
	var out []field
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f)
		}
	}
	return out
}

// Reasons the author domain cannot be determined (RFC 7489 6.6.1).
var (
	errNoFrom       = errors.New("no From header field")
	errManyFrom     = errors.New("more than one From header field")
	errFromAddrs    = errors.New("the From field must hold exactly one address")
	errFromNoDomain = errors.New("the From address has no domain")
)

// fromDomain returns the RFC5322.From domain, lower-case and in A-label form.
// RFC 7489 6.6.1: a message without exactly one From field holding exactly
// one address has no single author domain, and DMARC cannot be applied.
func fromDomain(fields []field) (string, error) {
	froms := fieldsNamed(fields, "From")
	switch {
	case len(froms) == 0:
		return "", errNoFrom
	case len(froms) > 1:
		return "", errManyFrom
	}
	// Only the address matters, so display names in charsets Go does not
	// know are passed through undecoded instead of failing the parse.
	p := mail.AddressParser{WordDecoder: &mime.WordDecoder{
		CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
	}}
	addrs, err := p.ParseList(froms[0].value())
	if err != nil {
		return "", fmt.Errorf("parse From: %w", err)
	}
	if len(addrs) != 1 {
		return "", errFromAddrs
	}
	at := strings.LastIndexByte(addrs[0].Address, '@')
	if at < 0 {
		return "", errFromNoDomain
	}
	d, err := normalizeDomain(addrs[0].Address[at+1:])
	if err != nil {
		return "", fmt.Errorf("domain of From: %w", err)
	}
	return d, nil
}

// normalizeDomain lower-cases d, strips a trailing dot and converts an
// internationalized name to A-labels (RFC 5890), the form the DNS and
// alignment comparisons use. Address literals are refused.
func normalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(d, ".")
	if d == "" || strings.HasPrefix(d, "[") {
		return "", fmt.Errorf("%q is not a domain name", d)
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(d)
			if err != nil {
				return "", fmt.Errorf("domain %q: %w", d, err)
			}
			return strings.ToLower(a), nil
		}
	}
	return strings.ToLower(d), nil
}

// validSPFDomain reports whether d can be an SPF <domain>: RFC 7208 4.3 makes
// a malformed or single-label name yield "none" without a lookup.
func validSPFDomain(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if len(d) == 0 || len(d) > 253 {
		return false
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
