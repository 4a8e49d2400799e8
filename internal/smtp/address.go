package smtp

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// ErrBadAddress is wrapped by every address syntax error.
var ErrBadAddress = errors.New("invalid address")

// Length limits of RFC 5321 4.5.3.1.
const (
	MaxLocalPart = 64  // octets, RFC 5321 4.5.3.1.1
	MaxDomain    = 255 // octets, RFC 5321 4.5.3.1.2
	MaxPath      = 256 // octets including the angle brackets, RFC 5321 4.5.3.1.3
)

// Address is a mailbox, local-part "@" domain (RFC 5321 4.1.2). The zero Address
// is the null reverse-path "<>" (RFC 5321 4.5.5).
type Address struct {
	// Local is the local part in its unquoted form, case preserved: RFC 5321 2.4
	// lets the receiving host decide whether case matters.
	Local string
	// Domain is as written: a domain name (ASCII or U-labels, RFC 6531) or an
	// address literal in brackets such as "[192.0.2.1]" or "[IPv6:2001:db8::1]".
	Domain string
}

// ParseAddress parses "local@domain" without angle brackets. The local part may
// be a dot-string, a quoted-string, or the unquoted content of a quoted-string
// (as some callers hand it over after removing the quotes); UTF-8 is accepted
// (RFC 6531 3.3). The domain is split at the last "@", since a domain never
// contains one.
func ParseAddress(s string) (Address, error) {
	bad := func(why string) (Address, error) {
		return Address{}, fmt.Errorf("%w %q: %s", ErrBadAddress, s, why)
	}
	if len(s)+2 > MaxPath {
		return bad("too long")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return bad("no @")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"' {
		u, ok := unquote(local[1 : len(local)-1])
		if !ok {
			return bad("malformed quoted-string")
		}
		local = u
	}
	if err := checkLocal(local); err != "" {
		return bad(err)
	}
	if err := checkDomain(domain); err != "" {
		return bad(err)
	}
	return Address{Local: local, Domain: domain}, nil
}

// unquote removes quoted-pairs (RFC 5321 4.1.2 quoted-pairSMTP).
func unquote(s string) (string, bool) {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			i++
			if i == len(s) {
				return "", false
			}
			sb.WriteByte(s[i])
		case '"':
			return "", false
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), true
}

func checkLocal(local string) string {
	switch {
	case local == "":
		return "empty local part"
	case len(local) > MaxLocalPart:
		return "local part too long"
	case !utf8.ValidString(local):
		return "local part is not UTF-8"
	}
	for _, r := range local {
		// Quoted-strings carry any printable ASCII (qtextSMTP, quoted-pairSMTP);
		// nothing allows control characters.
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return "control character in local part"
		}
	}
	return ""
}

func checkDomain(d string) string {
	switch {
	case d == "":
		return "empty domain"
	case len(d) > MaxDomain:
		return "domain too long"
	case d[0] == '[':
		if _, ok := literalIP(d); !ok {
			return "bad address literal"
		}
		return ""
	}
	if _, err := asciiDomain(d); err != nil {
		return "bad domain"
	}
	return ""
}

// ASCIIDomain validates a domain name (ASCII or U-labels, no address literal)
// and returns its lower-case A-label form, as DNS and comparisons need it.
func ASCIIDomain(d string) (string, error) {
	a, err := asciiDomain(d)
	if err != nil {
		return "", fmt.Errorf("%w: domain %q", ErrBadAddress, d)
	}
	return a, nil
}

// IsAddressLiteral reports whether s is a valid RFC 5321 4.1.3 address literal
// such as "[192.0.2.1]" or "[IPv6:2001:db8::1]".
func IsAddressLiteral(s string) bool {
	_, ok := literalIP(s)
	return ok
}

// asciiDomain returns the lower-case A-label form of a domain name
// (RFC 5890), validating it: letters, digits and hyphens per label, labels of
// 1 to 63 octets, no trailing dot.
func asciiDomain(d string) (string, error) {
	a := strings.ToLower(d)
	if !plainLDH(a) {
		var err error
		if a, err = idna.Lookup.ToASCII(d); err != nil {
			return "", err
		}
	}
	if a == "" || len(a) > MaxDomain || strings.HasSuffix(a, ".") {
		return "", errors.New("bad domain")
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" || len(label) > 63 {
			return "", errors.New("bad label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", errors.New("bad character in domain")
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", errors.New("label starts or ends with a hyphen")
		}
	}
	return a, nil
}

// plainLDH reports a lower-case domain of letters, digits, hyphens and dots with
// no label holding "--" at its third and fourth characters: IDNA maps such a
// name to itself (UTS #46 4.1 checks the hyphens; "xn--" labels must be
// decoded), so the checks of asciiDomain suffice and idna, a tenth of the CPU
// time of an RCPT command, is skipped.
func plainLDH(d string) bool {
	start := 0
	for i := 0; i <= len(d); i++ {
		if i == len(d) || d[i] == '.' {
			if i-start >= 4 && d[start+2] == '-' && d[start+3] == '-' {
				return false
			}
			start = i + 1
			continue
		}
		c := d[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// literalIP parses an RFC 5321 4.1.3 address literal.
func literalIP(d string) (netip.Addr, bool) {
	if len(d) < 3 || d[0] != '[' || d[len(d)-1] != ']' {
		return netip.Addr{}, false
	}
	in := d[1 : len(d)-1]
	if v6, ok := cutPrefixFold(in, "IPv6:"); ok {
		ip, err := netip.ParseAddr(v6)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return netip.Addr{}, false
		}
		return ip, true
	}
	ip, err := netip.ParseAddr(in)
	if err != nil || !ip.Is4() {
		return netip.Addr{}, false
	}
	return ip, true
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// IsNull reports whether a is the null reverse-path "<>".
func (a Address) IsNull() bool { return a.Local == "" && a.Domain == "" }

// IsASCII reports whether a can be sent without SMTPUTF8 (RFC 6531 3.2): both
// parts are ASCII. A U-label domain alone could be converted to A-labels, but a
// client that writes one has chosen SMTPUTF8 semantics.
func (a Address) IsASCII() bool {
	return isASCII(a.Local) && isASCII(a.Domain)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// IsLiteral reports whether the domain is an address literal.
func (a Address) IsLiteral() bool { return strings.HasPrefix(a.Domain, "[") }

// LiteralIP returns the IP address of an address-literal domain.
func (a Address) LiteralIP() (netip.Addr, bool) { return literalIP(a.Domain) }

// ASCIIDomain returns the domain as lower-case A-labels, the form used for DNS
// and for comparing domains. An address literal is returned unchanged.
func (a Address) ASCIIDomain() string {
	if a.IsLiteral() {
		return a.Domain
	}
	d, err := asciiDomain(a.Domain)
	if err != nil {
		// Only a hand-built Address can get here; compare it as written.
		return strings.ToLower(a.Domain)
	}
	return d
}

// Key is the address as Gannet compares and stores it: local part lower-cased
// (accounts are case-insensitive, as most receivers' are) and domain in
// lower-case A-labels. It is not quoted: a store lookup takes it as is.
func (a Address) Key() string {
	if a.IsNull() {
		return ""
	}
	return strings.ToLower(a.Local) + "@" + a.ASCIIDomain()
}

// String returns the RFC 5321 Mailbox: the local part as a dot-string when it is
// one, else as a quoted-string (RFC 5321 4.1.2 says to prefer the unquoted
// form). The null path is "".
func (a Address) String() string {
	if a.IsNull() {
		return ""
	}
	return quoteLocal(a.Local) + "@" + a.Domain
}

// Path returns the address in angle brackets, "<>" for the null path.
func (a Address) Path() string { return "<" + a.String() + ">" }

func quoteLocal(local string) string {
	if isDotString(local) {
		return local
	}
	var sb strings.Builder
	sb.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(local[i])
	}
	sb.WriteByte('"')
	return sb.String()
}

// isDotString reports whether s is an RFC 5321 Dot-string of atext (RFC 5322
// 3.2.3), extended by RFC 6531 3.3 to UTF-8 non-ASCII characters.
func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if r >= 0x80 {
			continue
		}
		if !isAtext(byte(r)) && r != '.' {
			return false
		}
	}
	return true
}

func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
