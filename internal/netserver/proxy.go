package netserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// The PROXY protocol (HAProxy's "The PROXY protocol", versions 1 and 2): a
// load balancer in front of several nodes prefixes each connection with the
// client's address, so that limits, logs and Received fields see the client
// rather than the balancer. Only peers in the configured trusted networks may
// send it; from anyone else it is ordinary (bad) protocol input.

// v2sig is the 12-octet signature of a version 2 header (section 2.2).
var v2sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// Sizes from the specification.
const (
	v1MaxLen   = 107 // section 2.1: the longest v1 line, CRLF included
	v2AddrMax  = 4096
	proxyFirst = 12 // octets read before deciding: the v2 signature, a prefix of every v1 line
)

// ErrProxyHeader is wrapped by every PROXY header parse error.
var ErrProxyHeader = errors.New("bad PROXY protocol header")

func proxyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProxyHeader, fmt.Sprintf(format, args...))
}

// ReadProxyHeader reads one PROXY protocol header (v1 or v2) from r, and no
// octet more, so the protocol's data that follows stays unread. src is the
// client's address and port; it is invalid (the zero AddrPort) for a header
// that carries no address (v1 UNKNOWN, v2 LOCAL or an unsupported family):
// the connection's own address applies then.
func ReadProxyHeader(r io.Reader) (src, dst netip.AddrPort, err error) {
	var first [proxyFirst]byte
	if _, err := io.ReadFull(r, first[:]); err != nil {
		return src, dst, proxyErr("reading signature: %v", err)
	}
	if bytes.Equal(first[:], v2sig) {
		return readV2(r)
	}
	if string(first[:6]) == "PROXY " {
		return readV1(r, first[:])
	}
	return src, dst, proxyErr("no PROXY signature")
}

// readV1 reads the rest of a v1 line (section 2.1):
// "PROXY TCP4|TCP6|UNKNOWN src dst sport dport\r\n".
func readV1(r io.Reader, start []byte) (src, dst netip.AddrPort, err error) {
	line := make([]byte, 0, v1MaxLen)
	line = append(line, start...)
	var b [1]byte
	// One octet at a time: reading ahead would swallow the protocol's first
	// octets. Only trusted proxies get here, and the line is short.
	for !bytes.HasSuffix(line, []byte("\r\n")) {
		if len(line) >= v1MaxLen {
			return src, dst, proxyErr("v1 line longer than %d octets", v1MaxLen)
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return src, dst, proxyErr("reading v1 line: %v", err)
		}
		line = append(line, b[0])
	}
	f := strings.Split(string(line[len("PROXY "):len(line)-2]), " ")
	switch f[0] {
	case "UNKNOWN":
		// Section 2.1: the receiver ignores everything after UNKNOWN.
		return src, dst, nil
	case "TCP4", "TCP6":
	default:
		return src, dst, proxyErr("v1 protocol %q", f[0])
	}
	if len(f) != 5 {
		return src, dst, proxyErr("v1 line has %d fields, want 5", len(f)+1)
	}
	sa, err1 := parseV1Addr(f[1], f[0] == "TCP4")
	da, err2 := parseV1Addr(f[2], f[0] == "TCP4")
	sp, err3 := parseV1Port(f[3])
	dp, err4 := parseV1Port(f[4])
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return src, dst, err
	}
	return netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp), nil
}

func parseV1Addr(s string, v4 bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || a.Is4() != v4 {
		return netip.Addr{}, proxyErr("v1 address %q", s)
	}
	return a.Unmap(), nil
}

func parseV1Port(s string) (uint16, error) {
	// Section 2.1: decimal, 0 to 65535, no leading zeros.
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, proxyErr("v1 port %q", s)
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, proxyErr("v1 port %q", s)
	}
	return uint16(n), nil
}

// readV2 reads a v2 header after its signature (section 2.2).
func readV2(r io.Reader) (src, dst netip.AddrPort, err error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return src, dst, proxyErr("reading v2 header: %v", err)
	}
	verCmd, fam := h[0], h[1]
	n := int(binary.BigEndian.Uint16(h[2:]))
	if verCmd>>4 != 2 {
		return src, dst, proxyErr("v2 version %d", verCmd>>4)
	}
	cmd := verCmd & 0xf
	if cmd > 1 {
		return src, dst, proxyErr("v2 command %d", cmd)
	}
	if n > v2AddrMax {
		return src, dst, proxyErr("v2 address block of %d octets", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return src, dst, proxyErr("reading v2 addresses: %v", err)
	}
	if cmd == 0 {
		// LOCAL: the proxy's own connection (a health check); no address.
		return src, dst, nil
	}
	var alen int
	switch fam {
	case 0x11: // TCP over IPv4
		alen = 4
	case 0x21: // TCP over IPv6
		alen = 16
	default:
		// UNSPEC, UDP or UNIX: section 2.2 says to accept the connection
		// and use the real addresses.
		return src, dst, nil
	}
	if n < 2*alen+4 {
		return src, dst, proxyErr("v2 address block of %d octets for family %#x", n, fam)
	}
	sa, _ := netip.AddrFromSlice(body[:alen])
	da, _ := netip.AddrFromSlice(body[alen : 2*alen])
	sp := binary.BigEndian.Uint16(body[2*alen:])
	dp := binary.BigEndian.Uint16(body[2*alen+2:])
	// The rest are TLVs (section 2.2.7), which nothing here needs.
	return netip.AddrPortFrom(sa.Unmap(), sp), netip.AddrPortFrom(da.Unmap(), dp), nil
}
