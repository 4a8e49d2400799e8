package dnsx_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"gannet/internal/dnsx"
)

// dnsServer answers UDP queries on 127.0.0.1 from a fixed zone, so that Net is
// tested against real DNS messages through Go's own resolver.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			resp := answer(h.ID, q)
			out, err := resp.Pack()
			if err != nil {
				t.Errorf("pack: %v", err)
				continue
			}
			pc.WriteTo(out, from)
		}
	}()
	return pc.LocalAddr().String()
}

func answer(id uint16, q dnsmessage.Question) dnsmessage.Message {
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: id, Response: true, Authoritative: true, RCode: dnsmessage.RCodeSuccess},
		Questions: []dnsmessage.Question{q},
	}
	name := q.Name.String()
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	mx := func(host string, pref uint16) {
		h := hdr
		h.Type = dnsmessage.TypeMX
		m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.MXResource{Pref: pref, MX: dnsmessage.MustNewName(host)}})
	}
	switch {
	case name == "mail.test." && q.Type == dnsmessage.TypeMX:
		mx("mx1.mail.test.", 10)
		mx("mx2.mail.test.", 20)
	case name == "nullmx.test." && q.Type == dnsmessage.TypeMX:
		mx(".", 0)
	case name == "mx1.mail.test." && q.Type == dnsmessage.TypeA:
		h := hdr
		h.Type = dnsmessage.TypeA
		m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}})
	case name == "txt.test." && q.Type == dnsmessage.TypeTXT:
		h := hdr
		h.Type = dnsmessage.TypeTXT
		m.Answers = append(m.Answers, dnsmessage.Resource{Header: h, Body: &dnsmessage.TXTResource{TXT: []string{"v=spf1 ", "-all"}}})
	case name == "broken.test.":
		m.Header.RCode = dnsmessage.RCodeServerFailure
	case name == "mx1.mail.test." || name == "mail.test." || name == "nullmx.test." || name == "txt.test.":
		// exists, but not with this type: NODATA
	default:
		m.Header.RCode = dnsmessage.RCodeNameError
	}
	return m
}

func netResolver(t *testing.T) dnsx.Net {
	addr := dnsServer(t)
	return dnsx.Net{R: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}}
}

// contract runs the same checks against any Resolver loaded with the zone
// above, so the Fake behaves like the real thing.
func contract(t *testing.T, r dnsx.Resolver) {
	ctx := context.Background()
	mxs, err := r.LookupMX(ctx, "mail.test")
	if err != nil || len(mxs) != 2 {
		t.Fatalf("LookupMX(mail.test) = %v, %v", mxs, err)
	}
	hosts := map[string]uint16{}
	for _, m := range mxs {
		hosts[dnsx.Canonical(m.Host)] = m.Pref
	}
	if hosts["mx1.mail.test"] != 10 || hosts["mx2.mail.test"] != 20 {
		t.Errorf("MX hosts %v", hosts)
	}
	mxs, err = r.LookupMX(ctx, "nullmx.test")
	if err != nil || !dnsx.IsNullMX(mxs) {
		t.Errorf("LookupMX(nullmx.test) = %v, %v; want a null MX", mxs, err)
	}
	if _, err := r.LookupMX(ctx, "nowhere.test"); !errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("NXDOMAIN: err = %v, want ErrNotFound", err)
	}
	if _, err := r.LookupMX(ctx, "mx1.mail.test"); !errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("NODATA: err = %v, want ErrNotFound", err)
	}
	if _, err := r.LookupMX(ctx, "broken.test"); err == nil || errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("SERVFAIL: err = %v, want a temporary error", err)
	}
	ips, err := r.LookupIP(ctx, "ip", "mx1.mail.test")
	if err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("LookupIP = %v, %v", ips, err)
	}
	if _, err := r.LookupIP(ctx, "ip", "nowhere.test"); !errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("LookupIP NXDOMAIN: err = %v", err)
	}
	txt, err := r.LookupTXT(ctx, "txt.test")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 -all" {
		t.Errorf("LookupTXT = %q, %v", txt, err)
	}
}

func TestNet(t *testing.T) {
	t.Parallel()
	contract(t, netResolver(t))
}

func TestFake(t *testing.T) {
	t.Parallel()
	f := &dnsx.Fake{}
	f.AddMX("mail.test", "mx1.mail.test", 10)
	f.AddMX("Mail.Test.", "mx2.mail.test.", 20)
	f.AddMX("nullmx.test", ".", 0)
	f.AddIP("mx1.mail.test", "192.0.2.1")
	f.AddTXT("txt.test", "v=spf1 -all")
	f.Fail("broken.test", true)
	contract(t, f)
	f.Fail("broken.test", false)
	if _, err := f.LookupMX(context.Background(), "broken.test"); !errors.Is(err, dnsx.ErrNotFound) {
		t.Errorf("after Fail(false): err = %v, want ErrNotFound", err)
	}
}
