package netserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// v2Header builds a PROXY v2 header for TCP from src to dst, with extra
// octets of TLVs.
func v2Header(src, dst netip.AddrPort, tlvs []byte) []byte {
	var b bytes.Buffer
	b.Write(v2sig)
	b.WriteByte(0x21) // version 2, PROXY
	var addrs []byte
	if src.Addr().Is4() {
		b.WriteByte(0x11)
		a, d := src.Addr().As4(), dst.Addr().As4()
		addrs = append(append(addrs, a[:]...), d[:]...)
	} else {
		b.WriteByte(0x21)
		a, d := src.Addr().As16(), dst.Addr().As16()
		addrs = append(append(addrs, a[:]...), d[:]...)
	}
	addrs = binary.BigEndian.AppendUint16(addrs, src.Port())
	addrs = binary.BigEndian.AppendUint16(addrs, dst.Port())
	addrs = append(addrs, tlvs...)
	b.Write(binary.BigEndian.AppendUint16(nil, uint16(len(addrs))))
	b.Write(addrs)
	return b.Bytes()
}

func TestReadProxyHeader(t *testing.T) {
	t.Parallel()
	ap := netip.MustParseAddrPort
	for _, tc := range []struct {
		name     string
		in       string
		src, dst string // "" = no address
		err      bool
	}{
		{"v1 tcp4", "PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\n", "192.0.2.1:56324", "198.51.100.2:143", false},
		{"v1 tcp6", "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", "[2001:db8::1]:1", "[2001:db8::2]:65535", false},
		{"v1 unknown", "PROXY UNKNOWN\r\n", "", "", false},
		{"v1 unknown with addresses", "PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n", "", "", false},
		{"v2 tcp4", string(v2Header(ap("192.0.2.1:1000"), ap("198.51.100.2:993"), nil)), "192.0.2.1:1000", "198.51.100.2:993", false},
		{"v2 tcp6 with TLVs", string(v2Header(ap("[2001:db8::7]:5"), ap("[2001:db8::8]:6"), []byte{0x04, 0, 1, 'x'})), "[2001:db8::7]:5", "[2001:db8::8]:6", false},
		{"v2 local", string(v2sig) + "\x20\x00\x00\x00", "", "", false},
		{"v2 unix", string(v2sig) + "\x21\x31\x00\x04abcd", "", "", false},
		{"v1 family mismatch", "PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n", "", "", true},
		{"v1 port leading zero", "PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n", "", "", true},
		{"v1 port too big", "PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", "", "", true},
		{"v1 missing field", "PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", "", "", true},
		{"v1 zone", "PROXY TCP6 fe80::1%eth0 fe80::2 1 2\r\n", "", "", true},
		{"v1 no CRLF", "PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n" + strings.Repeat("x", 200), "", "", true},
		{"v1 too long", "PROXY " + strings.Repeat("x", 200) + "\r\n", "", "", true},
		{"v2 bad version", string(v2sig) + "\x11\x11\x00\x0c" + strings.Repeat("\x00", 12), "", "", true},
		{"v2 short addresses", string(v2sig) + "\x21\x11\x00\x04abcd", "", "", true},
		{"v2 too long", string(v2sig) + "\x21\x11\xff\xff", "", "", true},
		{"v2 truncated", string(v2sig) + "\x21\x11\x00\x40\x01", "", "", true},
		{"not proxy", "a1 LOGIN x y\r\n", "", "", true},
		{"short", "PROX", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const rest = "a1 CAPABILITY\r\n"
			r := strings.NewReader(tc.in + rest)
			src, dst, err := ReadProxyHeader(r)
			if tc.err {
				if err == nil || !errors.Is(err, ErrProxyHeader) {
					t.Fatalf("err = %v, want ErrProxyHeader", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmtAP(src); got != tc.src {
				t.Errorf("src = %q, want %q", got, tc.src)
			}
			if got := fmtAP(dst); got != tc.dst {
				t.Errorf("dst = %q, want %q", got, tc.dst)
			}
			// Not one octet of the protocol's data was consumed.
			if left, _ := io.ReadAll(r); string(left) != rest {
				t.Errorf("left after header = %q, want %q", left, rest)
			}
		})
	}
}

func fmtAP(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// FuzzReadProxyHeader: any input is parsed without panic, never past the
// header's own length, and an accepted header names valid addresses.
func FuzzReadProxyHeader(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 143\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2Header(ap("192.0.2.1:1000"), ap("198.51.100.2:993"), nil))
	f.Add(v2Header(ap("[2001:db8::7]:5"), ap("[2001:db8::8]:6"), []byte{1, 0, 2, 'h', '2'}))
	f.Add(append(append([]byte{}, v2sig...), 0x20, 0, 0, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		src, dst, err := ReadProxyHeader(r)
		used := len(in) - r.Len()
		if err != nil {
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v does not wrap ErrProxyHeader", err)
			}
			return
		}
		if bytes.HasPrefix(in, []byte("PROXY ")) {
			if used > v1MaxLen || !bytes.HasSuffix(in[:used], []byte("\r\n")) {
				t.Fatalf("v1 header used %d octets: %q", used, in[:used])
			}
		} else if used > 16+v2AddrMax {
			t.Fatalf("v2 header used %d octets", used)
		}
		if src.IsValid() != dst.IsValid() {
			t.Fatalf("src %v, dst %v: one valid without the other", src, dst)
		}
		if src.IsValid() && (src.Addr().Is4In6() || src.Addr().Zone() != "") {
			t.Fatalf("src %v not normalised", src)
		}
	})
}
