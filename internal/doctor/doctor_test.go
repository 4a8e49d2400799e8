package doctor_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/dnsx"
	"gannet/internal/dnsx/dnstest"
	"gannet/internal/doctor"
	"gannet/internal/mailauth"
)

// The end-to-end tests (a real server, each record broken in turn) are in
// cmd/gannet (TestDoctor, TestQuickstartServe). These check the DNS checks
// alone against odd and hostile answers, with no port configured.

func dnsConfig(t *testing.T) mailauth.DNSConfig {
	keys, err := mailauth.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return mailauth.DNSConfig{Domain: "odd.test", Host: "mx.odd.test", Keys: keys}
}

func run(t *testing.T, z *dnstest.Server, c mailauth.DNSConfig) map[string]doctor.Result {
	t.Helper()
	rs, err := doctor.Run(context.Background(), doctor.Options{DNS: c, Resolver: dnsx.Client{Server: z.Addr, Timeout: 2 * time.Second},
		Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]doctor.Result{}
	for _, r := range rs {
		if strings.Contains(r.String(), "\n") {
			t.Errorf("a result spans lines: %q", r.String())
		}
		m[r.Check] = r
	}
	return m
}

func want(t *testing.T, m map[string]doctor.Result, check string, st doctor.Status, msg string) {
	t.Helper()
	r, ok := m[check]
	if !ok {
		t.Errorf("no check %q", check)
		return
	}
	if r.Status != st || !strings.Contains(r.Msg, msg) {
		t.Errorf("%s: got %q, want %v containing %q", check, r.String(), st, msg)
	}
}

func TestOddAnswers(t *testing.T) {
	t.Parallel()
	c := dnsConfig(t)
	z := dnstest.Start(t)
	z.Add("odd.test", "MX", "0 .")
	z.Add("mx.odd.test", "AAAA", "2001:db8::25")
	z.Add(dnsx.ReverseName(mustAddr("2001:db8::25")), "PTR", "other.test.")
	z.Add(dnsx.ReverseName(mustAddr("2001:db8::25")), "PTR", "mx.odd.test.")
	z.Add("odd.test", "TXT", `"v=spf1 mx -all"`)
	z.Add("odd.test", "TXT", `"v=spf1 -all"`)
	z.Add(c.Keys[0].Selector+"._domainkey.odd.test", "TXT", `"v=DKIM1; k=ed25519; p=!!!not base64"`)
	z.Add(c.Keys[1].Selector+"._domainkey.odd.test", "TXT", strings.Repeat("x", 5000))
	z.Add("_dmarc.odd.test", "TXT", `"v=DMARC1; p=none"`)
	z.Add("_mta-sts.odd.test", "TXT", `"v=STSv1; id=1"`)
	z.Add("_mta-sts.odd.test", "TXT", `"v=STSv1; id=2"`)
	z.Add("_imaps._tcp.odd.test", "SRV", "0 0 0 .")
	z.Add("autoconfig.odd.test", "CNAME", "loop.odd.test.")
	z.Add("loop.odd.test", "CNAME", "autoconfig.odd.test.")
	z.Fail("autodiscover.odd.test", true)
	m := run(t, z, c)
	want(t, m, "MX odd.test", doctor.Fail, "null MX")
	want(t, m, "A/AAAA mx.odd.test", doctor.Warn, "no IPv4")
	want(t, m, "PTR 2001:db8::25", doctor.OK, "mx.odd.test")
	want(t, m, "SPF odd.test", doctor.Fail, "2 SPF records")
	want(t, m, "DKIM "+c.Keys[0].Selector+"._domainkey.odd.test", doctor.Fail, "unreadable")
	want(t, m, "DKIM "+c.Keys[1].Selector+"._domainkey.odd.test", doctor.Fail, "unreadable")
	want(t, m, "DMARC _dmarc.odd.test", doctor.Warn, "p=none")
	want(t, m, "MTA-STS _mta-sts.odd.test", doctor.Fail, "2 v=STSv1 records")
	want(t, m, "SRV _imaps._tcp.odd.test", doctor.Fail, "points at 0")
	want(t, m, "name autoconfig.odd.test", doctor.Warn, "no record")
	want(t, m, "name autodiscover.odd.test", doctor.Warn, "lookup failed")
	want(t, m, "name mta-sts.odd.test", doctor.Fail, "no record")
	want(t, m, "certificate", doctor.Warn, "not checked")
	if !doctor.Failed(mapValues(m)) {
		t.Error("Failed() = false")
	}
}

// A DNS server that does not answer makes every DNS check fail with a
// lookup error, within the timeout, rather than hang or report records
// missing.
func TestNoDNS(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing: every query times out
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	rs, err := doctor.Run(context.Background(), doctor.Options{DNS: dnsConfig(t),
		Resolver: dnsx.Client{Server: pc.LocalAddr().String(), Timeout: 100 * time.Millisecond}, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]doctor.Result{}
	for _, r := range rs {
		m[r.Check] = r
	}
	want(t, m, "MX odd.test", doctor.Fail, "lookup failed")
	want(t, m, "A/AAAA mx.odd.test", doctor.Fail, "lookup failed")
	want(t, m, "SPF odd.test", doctor.Fail, "lookup failed")
	want(t, m, "DMARC _dmarc.odd.test", doctor.Fail, "lookup failed")
}

func TestRunNeedsResolver(t *testing.T) {
	t.Parallel()
	if _, err := doctor.Run(context.Background(), doctor.Options{DNS: dnsConfig(t)}); err == nil {
		t.Error("Run without a resolver succeeded")
	}
	if _, err := doctor.Run(context.Background(), doctor.Options{DNS: mailauth.DNSConfig{Domain: "x y", Host: "h"},
		Resolver: dnsx.Client{Server: "127.0.0.1:1"}}); err == nil {
		t.Error("Run with a bad domain succeeded")
	}
}

func mapValues(m map[string]doctor.Result) []doctor.Result {
	var out []doctor.Result
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// The certificate check against a real TLS listener, with the clock moved
// to near and past the certificate's end.
func TestCertificateExpiry(t *testing.T) {
	t.Parallel()
	c := dnsConfig(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notAfter := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "odd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		DNSNames: []string{"mx.odd.test", "mta-sts.odd.test", "autoconfig.odd.test", "autodiscover.odd.test"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				conn.(*tls.Conn).Handshake()
				conn.Write([]byte("HTTP/1.1 404 Not Found\r\n\r\n"))
			}()
		}
	}()
	z := dnstest.Start(t)
	z.Add("mx.odd.test", "A", "127.0.0.1")
	port := ln.Addr().(*net.TCPAddr).Port
	check := func(now time.Time) map[string]doctor.Result {
		rs, err := doctor.Run(context.Background(), doctor.Options{DNS: c, Resolver: dnsx.Client{Server: z.Addr},
			Ports: doctor.Ports{HTTPS: port}, RootCAs: roots, Timeout: 5 * time.Second, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]doctor.Result{}
		for _, r := range rs {
			m[r.Check] = r
		}
		return m
	}
	m := check(time.Now())
	want(t, m, "certificate mx.odd.test", doctor.OK, "valid until "+notAfter.UTC().Format("2006-01-02"))
	want(t, m, "certificate autodiscover.odd.test", doctor.OK, "issued by odd test")
	m = check(notAfter.Add(-5 * 24 * time.Hour))
	want(t, m, "certificate mx.odd.test", doctor.Warn, "not renewed in time")
	m = check(notAfter.Add(time.Hour))
	want(t, m, "certificate mx.odd.test", doctor.Fail, "expired")
	want(t, m, "port "+strconv.Itoa(port)+" (https) on 127.0.0.1", doctor.Fail, "expired")
	m = check(time.Now())
	want(t, m, "port "+strconv.Itoa(port)+" (https) on 127.0.0.1", doctor.OK, "HTTP/1.1 404")
}
