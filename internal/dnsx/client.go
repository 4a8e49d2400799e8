package dnsx

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Client is a Resolver that asks one DNS server directly, over UDP with a
// retry over TCP when the answer is truncated (RFC 7766 5), and never reads
// /etc/hosts. Net goes through the system's lookup order, where the hosts
// file answers first: on a mail server that file often maps the server's own
// name to a private or loopback address, which says nothing of what the
// world sees. `gannet doctor` needs the DNS itself, so it uses a Client.
//
// Answers are taken from the answer section whatever their owner name, so a
// CNAME chain the server followed (RFC 1034 3.6.2) yields the target's
// records.
type Client struct {
	// Server is "host:port" of a recursive resolver (or of an
	// authoritative server, to check records before they propagate).
	Server string
	// Timeout bounds one exchange; 5 s when zero.
	Timeout time.Duration
}

var _ Resolver = Client{}

// SystemServer returns the first nameserver of /etc/resolv.conf as
// "host:53", or "127.0.0.1:53" when there is none (resolv.conf(5)'s default).
func SystemServer() string {
	f, err := os.Open("/etc/resolv.conf")
	if err != nil {
		return "127.0.0.1:53"
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				return netip.AddrPortFrom(a.WithZone(""), 53).String()
			}
		}
	}
	return "127.0.0.1:53"
}

// maxUDP is the payload size we advertise with EDNS(0) (RFC 6891 6.2.5;
// 1232 is the size DNS Flag Day 2020 settled on to avoid fragmentation).
const maxUDP = 1232

// LookupMX implements Resolver.
func (c Client) LookupMX(ctx context.Context, domain string) ([]*net.MX, error) {
	rs, err := c.query(ctx, domain, dnsmessage.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []*net.MX
	for _, r := range rs {
		if b, ok := r.Body.(*dnsmessage.MXResource); ok {
			out = append(out, &net.MX{Host: b.MX.String(), Pref: b.Pref})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup MX %s: %w", domain, ErrNotFound)
	}
	return out, nil
}

// LookupIP implements Resolver.
func (c Client) LookupIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	var firstErr error
	for _, t := range []dnsmessage.Type{dnsmessage.TypeA, dnsmessage.TypeAAAA} {
		if (network == "ip4" && t == dnsmessage.TypeAAAA) || (network == "ip6" && t == dnsmessage.TypeA) {
			continue
		}
		rs, err := c.query(ctx, host, t)
		if err != nil {
			if firstErr == nil || errors.Is(firstErr, ErrNotFound) {
				firstErr = err
			}
			continue
		}
		for _, r := range rs {
			switch b := r.Body.(type) {
			case *dnsmessage.AResource:
				out = append(out, netip.AddrFrom4(b.A))
			case *dnsmessage.AAAAResource:
				out = append(out, netip.AddrFrom16(b.AAAA).Unmap())
			}
		}
	}
	if len(out) == 0 {
		if firstErr == nil {
			firstErr = fmt.Errorf("lookup IP %s: %w", host, ErrNotFound)
		}
		return nil, firstErr
	}
	return out, nil
}

// LookupTXT implements Resolver.
func (c Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rs, err := c.query(ctx, name, dnsmessage.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rs {
		if b, ok := r.Body.(*dnsmessage.TXTResource); ok {
			out = append(out, strings.Join(b.TXT, ""))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup TXT %s: %w", name, ErrNotFound)
	}
	return out, nil
}

// LookupAddr returns the PTR names of addr (RFC 1035 3.5, RFC 3596 2.5),
// each with its trailing dot.
func (c Client) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	rs, err := c.query(ctx, ReverseName(addr), dnsmessage.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range rs {
		if b, ok := r.Body.(*dnsmessage.PTRResource); ok {
			out = append(out, b.PTR.String())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup PTR %s: %w", addr, ErrNotFound)
	}
	return out, nil
}

// LookupSRV returns the SRV records of name (e.g. "_imaps._tcp.example.com").
func (c Client) LookupSRV(ctx context.Context, name string) ([]*net.SRV, error) {
	rs, err := c.query(ctx, name, dnsmessage.TypeSRV)
	if err != nil {
		return nil, err
	}
	var out []*net.SRV
	for _, r := range rs {
		if b, ok := r.Body.(*dnsmessage.SRVResource); ok {
			out = append(out, &net.SRV{Target: b.Target.String(), Port: b.Port, Priority: b.Priority, Weight: b.Weight})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("lookup SRV %s: %w", name, ErrNotFound)
	}
	return out, nil
}

// ReverseName is the in-addr.arpa (RFC 1035 3.5) or ip6.arpa (RFC 3596
// 2.5) name of addr, with the trailing dot.
func ReverseName(addr netip.Addr) string {
	addr = addr.Unmap()
	var b strings.Builder
	if addr.Is4() {
		a := addr.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.in-addr.arpa.", a[3], a[2], a[1], a[0])
		return b.String()
	}
	a := addr.As16()
	const hex = "0123456789abcdef"
	for i := len(a) - 1; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa.")
	return b.String()
}

// query asks for name's records of type t and returns the answer section's
// records of that type. NXDOMAIN and NODATA are ErrNotFound; everything
// else that is not an answer is a temporary error.
func (c Client) query(ctx context.Context, name string, t dnsmessage.Type) ([]dnsmessage.Resource, error) {
	kind := strings.TrimPrefix(t.String(), "Type")
	fail := func(err error) ([]dnsmessage.Resource, error) {
		return nil, fmt.Errorf("lookup %s %s: %w", kind, name, err)
	}
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	qn, err := dnsmessage.NewName(name)
	if err != nil {
		return fail(fmt.Errorf("bad name: %v", err))
	}
	var idb [2]byte
	rand.Read(idb[:])
	id := binary.BigEndian.Uint16(idb[:])
	b := dnsmessage.NewBuilder(make([]byte, 2, 512), dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	q := dnsmessage.Question{Name: qn, Type: t, Class: dnsmessage.ClassINET}
	if err := b.StartQuestions(); err != nil {
		return fail(err)
	}
	if err := b.Question(q); err != nil {
		return fail(err)
	}
	if err := b.StartAdditionals(); err != nil {
		return fail(err)
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(maxUDP, dnsmessage.RCodeSuccess, false); err != nil {
		return fail(err)
	}
	if err := b.OPTResource(opt, dnsmessage.OPTResource{}); err != nil {
		return fail(err)
	}
	msg, err := b.Finish()
	if err != nil {
		return fail(err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := c.exchange(ctx, "udp", msg, id, q)
	if err == nil && resp.Truncated {
		resp, err = c.exchange(ctx, "tcp", msg, id, q)
	}
	if err != nil {
		return fail(err)
	}
	switch resp.RCode {
	case dnsmessage.RCodeSuccess:
	case dnsmessage.RCodeNameError:
		return fail(ErrNotFound)
	default:
		return fail(fmt.Errorf("server answered %v", resp.RCode))
	}
	var out []dnsmessage.Resource
	for _, r := range resp.Answers {
		if r.Header.Type == t && r.Header.Class == dnsmessage.ClassINET {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return fail(ErrNotFound) // NODATA
	}
	return out, nil
}

// exchange sends msg (with two spare bytes in front for TCP's length
// prefix) and reads the reply to it.
func (c Client) exchange(ctx context.Context, network string, msg []byte, id uint16, q dnsmessage.Question) (*dnsmessage.Message, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, c.Server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if network == "tcp" {
		// RFC 1035 4.2.2: a two-byte length before the message.
		binary.BigEndian.PutUint16(msg, uint16(len(msg)-2))
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			return nil, err
		}
		buf := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, err
		}
		return parseReply(buf, id, q)
	}
	if _, err := conn.Write(msg[2:]); err != nil {
		return nil, err
	}
	buf := make([]byte, maxUDP)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return nil, err
		}
		// A datagram that is not the reply (spoofed, late) is skipped
		// (RFC 5452 4.1), until the deadline.
		if m, err := parseReply(buf[:n], id, q); err == nil {
			return m, nil
		}
	}
}

func parseReply(b []byte, id uint16, q dnsmessage.Question) (*dnsmessage.Message, error) {
	var m dnsmessage.Message
	if err := m.Unpack(b); err != nil {
		return nil, fmt.Errorf("bad reply: %v", err)
	}
	if !m.Response || m.ID != id || len(m.Questions) != 1 ||
		m.Questions[0].Type != q.Type || !strings.EqualFold(m.Questions[0].Name.String(), q.Name.String()) {
		return nil, errors.New("reply does not match the query")
	}
	return &m, nil
}
