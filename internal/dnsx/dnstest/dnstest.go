// Package dnstest runs a small authoritative DNS server on 127.0.0.1 for
// tests: UDP and TCP on one port, answering from a zone the test edits
// while it runs. Records are given in zone-file presentation form (RFC 1035
// 5.1), so a test can publish exactly the lines `gannet domain dns` prints.
//
// It answers A, AAAA, MX, TXT, PTR, SRV and CNAME; a name with a CNAME is
// followed within the zone (RFC 1034 4.3.2). A name with no records is
// NXDOMAIN, a known name without the asked type NODATA. A name marked with
// Fail gets SERVFAIL. Safe for concurrent use.
package dnstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server is one running DNS server.
type Server struct {
	Addr string // 127.0.0.1:port, for UDP and TCP

	mu   sync.Mutex
	rrs  map[string][]dnsmessage.Resource // by canonical name with the dot
	fail map[string]bool
}

// Start starts a server that stops when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 10 { // the UDP port may be taken for TCP by someone else
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatalf("dnstest: %v", err)
	}
	s := &Server{Addr: pc.LocalAddr().String(), rrs: map[string][]dnsmessage.Resource{}, fail: map[string]bool{}}
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go s.serveUDP(pc)
	go s.serveTCP(ln)
	return s
}

func canon(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// Add publishes a record: typ is A, AAAA, MX, TXT, PTR, SRV or CNAME and
// data its RDATA in presentation form ("10 mail.example.com.", a quoted TXT
// "\"v=spf1 mx ~all\"", or unquoted text). It panics on data it cannot
// read, which is a mistake in the test.
func (s *Server) Add(name, typ, data string) {
	r, err := resource(canon(name), typ, data)
	if err != nil {
		panic(fmt.Sprintf("dnstest: %s %s %q: %v", name, typ, data, err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := canon(name)
	s.rrs[n] = append(s.rrs[n], r)
}

// Remove deletes name's records of type typ ("" = all types).
func (s *Server) Remove(name, typ string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := canon(name)
	var keep []dnsmessage.Resource
	for _, r := range s.rrs[n] {
		if typ != "" && typeName(r.Header.Type) != strings.ToUpper(typ) {
			keep = append(keep, r)
		}
	}
	if len(keep) == 0 {
		delete(s.rrs, n)
	} else {
		s.rrs[n] = keep
	}
}

// Set replaces name's records of type typ with one.
func (s *Server) Set(name, typ, data string) {
	s.Remove(name, typ)
	s.Add(name, typ, data)
}

// Fail makes every query for name answer SERVFAIL (or normally again).
func (s *Server) Fail(name string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[canon(name)] = fail
}

func typeName(t dnsmessage.Type) string { return strings.TrimPrefix(t.String(), "Type") }

func resource(name, typ, data string) (dnsmessage.Resource, error) {
	n, err := dnsmessage.NewName(name)
	if err != nil {
		return dnsmessage.Resource{}, err
	}
	h := dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 60}
	host := func(s string) (dnsmessage.Name, error) { return dnsmessage.NewName(canon(s)) }
	f := strings.Fields(data)
	switch strings.ToUpper(typ) {
	case "A", "AAAA":
		a, err := netip.ParseAddr(strings.TrimSpace(data))
		if err != nil {
			return dnsmessage.Resource{}, err
		}
		if a.Is4() {
			h.Type = dnsmessage.TypeA
			return dnsmessage.Resource{Header: h, Body: &dnsmessage.AResource{A: a.As4()}}, nil
		}
		h.Type = dnsmessage.TypeAAAA
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.AAAAResource{AAAA: a.As16()}}, nil
	case "MX":
		if len(f) != 2 {
			return dnsmessage.Resource{}, errors.New("want PREF HOST")
		}
		pref, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil {
			return dnsmessage.Resource{}, err
		}
		mx, err := host(f[1])
		if err != nil {
			return dnsmessage.Resource{}, err
		}
		h.Type = dnsmessage.TypeMX
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.MXResource{Pref: uint16(pref), MX: mx}}, nil
	case "TXT":
		txt, err := parseTXT(data)
		if err != nil {
			return dnsmessage.Resource{}, err
		}
		h.Type = dnsmessage.TypeTXT
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.TXTResource{TXT: txt}}, nil
	case "PTR", "CNAME":
		if len(f) != 1 {
			return dnsmessage.Resource{}, errors.New("want one name")
		}
		target, err := host(f[0])
		if err != nil {
			return dnsmessage.Resource{}, err
		}
		if strings.ToUpper(typ) == "PTR" {
			h.Type = dnsmessage.TypePTR
			return dnsmessage.Resource{Header: h, Body: &dnsmessage.PTRResource{PTR: target}}, nil
		}
		h.Type = dnsmessage.TypeCNAME
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.CNAMEResource{CNAME: target}}, nil
	case "SRV":
		if len(f) != 4 {
			return dnsmessage.Resource{}, errors.New("want PRIORITY WEIGHT PORT TARGET")
		}
		var v [3]uint64
		for i := range v {
			if v[i], err = strconv.ParseUint(f[i], 10, 16); err != nil {
				return dnsmessage.Resource{}, err
			}
		}
		target, err := host(f[3])
		if err != nil {
			return dnsmessage.Resource{}, err
		}
		h.Type = dnsmessage.TypeSRV
		return dnsmessage.Resource{Header: h, Body: &dnsmessage.SRVResource{
			Priority: uint16(v[0]), Weight: uint16(v[1]), Port: uint16(v[2]), Target: target}}, nil
	}
	return dnsmessage.Resource{}, fmt.Errorf("unsupported type %q", typ)
}

// parseTXT reads TXT RDATA: quoted character-strings with \" \\ and \DDD
// escapes (RFC 1035 5.1), or, when data has no quote, the text itself cut
// into strings of 255 bytes.
func parseTXT(data string) ([]string, error) {
	data = strings.TrimSpace(data)
	if !strings.HasPrefix(data, `"`) {
		var out []string
		for len(data) > 255 {
			out = append(out, data[:255])
			data = data[255:]
		}
		return append(out, data), nil
	}
	var out []string
	for data != "" {
		if data[0] != '"' {
			return nil, fmt.Errorf("expected a quote at %q", data)
		}
		var b strings.Builder
		i := 1
		for ; i < len(data) && data[i] != '"'; i++ {
			if data[i] != '\\' {
				b.WriteByte(data[i])
				continue
			}
			i++
			if i+2 < len(data) && data[i] >= '0' && data[i] <= '9' {
				v, err := strconv.Atoi(data[i : i+3])
				if err != nil || v > 255 {
					return nil, fmt.Errorf("bad escape at %q", data[i:])
				}
				b.WriteByte(byte(v))
				i += 2
			} else if i < len(data) {
				b.WriteByte(data[i])
			}
		}
		if i >= len(data) {
			return nil, errors.New("unterminated string")
		}
		out = append(out, b.String())
		data = strings.TrimSpace(data[i+1:])
	}
	return out, nil
}

func (s *Server) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if out := s.answer(buf[:n], 1232); out != nil {
			pc.WriteTo(out, from)
		}
	}
}

func (s *Server) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			for {
				var l [2]byte
				if _, err := io.ReadFull(c, l[:]); err != nil {
					return
				}
				msg := make([]byte, binary.BigEndian.Uint16(l[:]))
				if _, err := io.ReadFull(c, msg); err != nil {
					return
				}
				out := s.answer(msg, 65535)
				if out == nil {
					return
				}
				binary.BigEndian.PutUint16(l[:], uint16(len(out)))
				if _, err := c.Write(append(l[:], out...)); err != nil {
					return
				}
			}
		}()
	}
}

// answer builds the reply to one query; nil for garbage. Replies larger
// than limit are sent empty with TC set (RFC 1035 4.2.1).
func (s *Server) answer(query []byte, limit int) []byte {
	var q dnsmessage.Message
	if err := q.Unpack(query); err != nil || len(q.Questions) != 1 || q.Response {
		return nil
	}
	question := q.Questions[0]
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true, RecursionDesired: q.RecursionDesired},
		Questions: q.Questions,
	}
	s.mu.Lock()
	name := canon(question.Name.String())
	if s.fail[name] {
		m.RCode = dnsmessage.RCodeServerFailure
	} else {
		m.Answers, m.RCode = s.lookup(name, question.Type, 0)
	}
	s.mu.Unlock()
	out, err := m.Pack()
	if err != nil {
		return nil
	}
	if len(out) > limit {
		m.Answers = nil
		m.Truncated = true
		if out, err = m.Pack(); err != nil {
			return nil
		}
	}
	return out
}

func (s *Server) lookup(name string, t dnsmessage.Type, depth int) ([]dnsmessage.Resource, dnsmessage.RCode) {
	rrs, ok := s.rrs[name]
	if !ok {
		return nil, dnsmessage.RCodeNameError
	}
	var out []dnsmessage.Resource
	for _, r := range rrs {
		if r.Header.Type == t {
			out = append(out, r)
		}
	}
	if len(out) > 0 || t == dnsmessage.TypeCNAME {
		return out, dnsmessage.RCodeSuccess
	}
	for _, r := range rrs {
		if c, ok := r.Body.(*dnsmessage.CNAMEResource); ok && depth < 8 {
			more, rc := s.lookup(canon(c.CNAME.String()), t, depth+1)
			return append([]dnsmessage.Resource{r}, more...), rc
		}
	}
	return nil, dnsmessage.RCodeSuccess // NODATA
}
