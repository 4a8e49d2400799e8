package store

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// NormDomain lower-cases a domain and converts it to its IDNA A-label form
// (RFC 5890), so that "Exämple.COM" and "xn--exmple-cua.com" are one domain.
func NormDomain(name string) (string, error) {
	name = strings.TrimSuffix(strings.TrimSpace(name), ".")
	if name == "" || len(name) > 253 {
		return "", fmt.Errorf("domain %q: %w", name, ErrInvalidName)
	}
	a := strings.ToLower(name)
	var err error
	if !plainLDH(a) {
		// idna is most of the CPU time of a recipient lookup (and grows the
		// goroutine's stack): only names it could change go through it.
		a, err = idna.Lookup.ToASCII(a)
	}
	if err != nil || !strings.Contains(a, ".") && a != "localhost" {
		return "", fmt.Errorf("domain %q: %w", name, ErrInvalidName)
	}
	for rest := a; ; {
		label, more, found := strings.Cut(rest, ".")
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("domain %q: %w", name, ErrInvalidName)
		}
		if !found {
			return a, nil
		}
		rest = more
	}
}

// plainLDH reports a lower-case name of letters, digits, hyphens and dots whose
// labels are 1 to 63 characters, neither start nor end with a hyphen, and hold
// no "--" at their third and fourth characters (so no "xn--" label to decode):
// idna.Lookup maps such a name to itself (UTS #46 4.1), which
// TestNormDomainFastPath checks against it.
func plainLDH(d string) bool {
	start := 0
	for i := 0; i <= len(d); i++ {
		if i < len(d) && d[i] != '.' {
			c := d[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
			continue
		}
		n := i - start
		if n == 0 || n > 63 || d[start] == '-' || d[i-1] == '-' ||
			n >= 4 && d[start+2] == '-' && d[start+3] == '-' {
			return false
		}
		start = i + 1
	}
	return true
}

// NormAddress lower-cases and validates local@domain, returning its parts.
// The local part may be UTF-8
// (RFC 6531); it may not contain characters that would need quoting.
func NormAddress(addr string) (local, domain string, err error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return "", "", fmt.Errorf("address %q: %w", addr, ErrInvalidName)
	}
	local = strings.ToLower(addr[:at])
	if !ValidLocal(local) {
		return "", "", fmt.Errorf("address %q: %w", addr, ErrInvalidName)
	}
	domain, err = NormDomain(addr[at+1:])
	if err != nil {
		return "", "", fmt.Errorf("address %q: %w", addr, ErrInvalidName)
	}
	return local, domain, nil
}

// ValidLocal reports whether local is a usable local part: 1 to 64 bytes of
// UTF-8, no leading, trailing or double dot, and nothing that would need
// quoting (RFC 5321 4.1.2, RFC 6531 3.3).
func ValidLocal(local string) bool {
	if local == "" || len(local) > 64 || !utf8.ValidString(local) {
		return false
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return false
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"(),:;<>@[\]`, r) {
			return false
		}
	}
	return true
}

// NormMailbox validates a mailbox name and canonicalises INBOX, which is
// case-insensitive (RFC 9051 5.1), also as the first component of a child.
func NormMailbox(name string) (string, error) {
	bad := func() (string, error) { return "", fmt.Errorf("mailbox %q: %w", name, ErrInvalidName) }
	if name == "" || len(name) > 1000 || !utf8.ValidString(name) {
		return bad()
	}
	if strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") || strings.Contains(name, "//") {
		return bad()
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return bad()
		}
	}
	first, rest, hasRest := strings.Cut(name, "/")
	if strings.EqualFold(first, "INBOX") {
		if hasRest {
			return "INBOX/" + rest, nil
		}
		return "INBOX", nil
	}
	return name, nil
}

// Parents returns the ancestors of a mailbox name, outermost first.
func Parents(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == '/' {
			out = append(out, name[:i])
		}
	}
	return out
}

// NormAliasAddress normalises an alias address: local@domain as NormAddress,
// or "@domain", a domain's catch-all. It returns the normalised address and
// its domain.
func NormAliasAddress(address string) (addr, domain string, err error) {
	if strings.HasPrefix(address, "@") {
		d, err := NormDomain(address[1:])
		if err != nil {
			return "", "", err
		}
		return "@" + d, d, nil
	}
	l, d, err := NormAddress(address)
	if err != nil {
		return "", "", err
	}
	return l + "@" + d, d, nil
}
