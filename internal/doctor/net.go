package doctor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"gannet/internal/mailauth"
)

// maxPolicy bounds the MTA-STS policy read (RFC 8461 3.3 lets senders stop
// at 64 KiB).
const maxPolicy = 64 << 10

// checkMTASTS: the _mta-sts id must match the policy the server serves at
// https://mta-sts.D/.well-known/mta-sts.txt, and that policy must be
// fetchable with a valid certificate and name this host (RFC 8461 3).
func (c *checker) checkMTASTS(ctx context.Context) {
	txtName := "_mta-sts." + c.domain
	check := "MTA-STS " + txtName
	fix := publish(c.record(txtName+".", "TXT"))
	var id string
	txts, err := c.opts.Resolver.LookupTXT(ctx, txtName)
	if err != nil && !errorsIsNotFound(err) {
		c.add(Fail, check, lookupWords(err), "")
		return
	}
	var recs []string
	for _, t := range txts {
		if strings.HasPrefix(t, "v=STSv1") {
			recs = append(recs, t)
		}
	}
	switch len(recs) {
	case 0:
		c.add(Warn, check, "no v=STSv1 record: senders may deliver to this domain without TLS", fix)
		return
	case 1:
		for f := range strings.SplitSeq(recs[0], ";") {
			if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok && k == "id" {
				id = v
			}
		}
	default:
		// RFC 8461 3.1: more than one record means no policy.
		c.add(Fail, check, fmt.Sprintf("%d v=STSv1 records; senders ignore them all", len(recs)), "keep one: "+fix)
		return
	}
	url := "https://mta-sts." + c.domain + "/.well-known/mta-sts.txt"
	policy, err := c.fetchPolicy(ctx)
	if err != nil {
		c.add(Fail, "MTA-STS policy "+url, "cannot be fetched: "+err.Error(),
			"make mta-sts."+c.domain+" reach this server's HTTPS port with a valid certificate")
		return
	}
	served := mailauth.MTASTSID(policy)
	if id != served {
		c.add(Fail, check, fmt.Sprintf("id=%s does not match the policy served (whose id is %s): senders keep an old policy", id, served), fix)
	} else {
		c.add(OK, check, "id="+id+" matches the policy served", "")
	}
	if !policyNames(policy, c.host) {
		c.add(Fail, "MTA-STS policy "+url, fmt.Sprintf("does not list %s as an mx: senders would refuse to deliver", c.host),
			"set hostname in the config to the MX host")
		return
	}
	c.add(OK, "MTA-STS policy "+url, "served, names "+c.host, "")
}

// policyNames reports whether an MTA-STS policy's mx lines match host (RFC
// 8461 4.1: a leading "*." matches one label).
func policyNames(policy, host string) bool {
	for line := range strings.SplitSeq(policy, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || strings.TrimSpace(k) != "mx" {
			continue
		}
		p := strings.ToLower(strings.TrimSpace(v))
		if p == host {
			return true
		}
		if rest, ok := strings.CutPrefix(p, "*."); ok {
			if _, parent, _ := strings.Cut(host, "."); parent == rest {
				return true
			}
		}
	}
	return false
}

// fetchPolicy GETs the policy from mta-sts.D's address on the HTTPS port.
func (c *checker) fetchPolicy(ctx context.Context) (string, error) {
	if c.opts.Ports.HTTPS == 0 {
		return "", errors.New("no HTTPS listener is configured (listeners.http)")
	}
	name := "mta-sts." + c.domain
	addrs, err := c.opts.Resolver.LookupIP(ctx, "ip", name)
	if err != nil {
		return "", fmt.Errorf("%s: %s", name, lookupWords(err))
	}
	target := netip.AddrPortFrom(addrs[0], uint16(c.opts.Ports.HTTPS)).String()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return c.opts.Dial(ctx, network, target)
		},
		TLSClientConfig:     &tls.Config{RootCAs: c.opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: c.opts.Timeout,
		DisableKeepAlives:   true,
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: c.opts.Timeout,
		// RFC 8461 3.3: senders must not follow redirects.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+name+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return "", err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		return "", fmt.Errorf("served as %q, not text/plain (RFC 8461 3.3)", ct)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicy+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxPolicy {
		return "", errors.New("larger than 64 KiB")
	}
	return string(b), nil
}

// tlsPort is where the certificate is checked: the HTTPS port, where ACME
// serves every name, or else an implicit-TLS mail port.
func (c *checker) tlsPort() int {
	for _, p := range []int{c.opts.Ports.HTTPS, c.opts.Ports.IMAPS, c.opts.Ports.Submissions, c.opts.Ports.POP3S} {
		if p != 0 {
			return p
		}
	}
	return 0
}

// checkCertificates: the certificate served for the host and for each
// service name must verify and not be about to expire.
func (c *checker) checkCertificates(ctx context.Context) {
	port := c.tlsPort()
	if port == 0 || len(c.addrs) == 0 {
		c.add(Warn, "certificate", "not checked: no TLS port configured or no address for "+c.host, "")
		return
	}
	addr := netip.AddrPortFrom(c.addrs[0], uint16(port)).String()
	for _, name := range []string{c.host, "mta-sts." + c.domain, "autoconfig." + c.domain, "autodiscover." + c.domain} {
		check := "certificate " + name
		st := Fail
		if strings.HasPrefix(name, "auto") {
			st = Warn // clients fall back to the SRV records and the host's own name
		}
		conn, err := c.handshake(ctx, addr, name)
		if err != nil {
			c.add(st, check, fmt.Sprintf("on %s: %v", addr, err),
				"with tls.acme = true the certificate comes by itself once the names resolve here and port 443 is reachable; else use a certificate that covers "+name)
			continue
		}
		leaf := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		left := leaf.NotAfter.Sub(c.opts.Now())
		issuer := leaf.Issuer.CommonName
		if issuer == "" && len(leaf.Issuer.Organization) > 0 {
			issuer = leaf.Issuer.Organization[0]
		}
		msg := fmt.Sprintf("valid until %s (%d days), issued by %s", leaf.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24), issuer)
		if left < ExpiryWarning {
			c.add(Warn, check, msg+": not renewed in time", "check the server's log for ACME errors, or renew it")
			continue
		}
		c.add(OK, check, msg, "")
	}
}

// handshake dials addr and completes a verified TLS handshake for name.
func (c *checker) handshake(ctx context.Context, addr, name string) (*tls.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	raw, err := c.opts.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, &tls.Config{ServerName: name, RootCAs: c.opts.RootCAs, MinVersion: tls.VersionTLS12,
		Time: c.opts.Now})
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}

// service is one listener to probe.
type service struct {
	name     string
	port     int
	tls      bool   // implicit TLS (RFC 8314)
	greeting string // the greeting's prefix; "" for HTTPS
}

// checkPorts: every configured listener answers on every address of the
// host with its greeting, over TLS where the port is implicit TLS.
func (c *checker) checkPorts(ctx context.Context) {
	if len(c.addrs) == 0 {
		c.add(Warn, "ports", "not checked: "+c.host+" has no address", "")
		return
	}
	p := c.opts.Ports
	all := []service{
		{"smtp", p.SMTP, false, "220"}, {"submission", p.Submission, false, "220"}, {"submissions", p.Submissions, true, "220"},
		{"imap", p.IMAP, false, "* OK"}, {"imaps", p.IMAPS, true, "* OK"},
		{"pop3", p.POP3, false, "+OK"}, {"pop3s", p.POP3S, true, "+OK"},
		{"https", p.HTTPS, true, ""},
	}
	type job struct {
		s    service
		addr netip.Addr
	}
	var jobs []job
	for _, s := range all {
		if s.port == 0 {
			continue
		}
		for _, a := range c.addrs {
			jobs = append(jobs, job{s, a})
		}
	}
	out := make([]Result, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			addr := netip.AddrPortFrom(j.addr, uint16(j.s.port)).String()
			check := fmt.Sprintf("port %d (%s) on %s", j.s.port, j.s.name, j.addr)
			banner, err := c.probe(ctx, addr, j.s)
			switch {
			case err != nil:
				out[i] = Result{Fail, check, err.Error(),
					fmt.Sprintf("make sure gannet is running and the firewall lets TCP port %d in", j.s.port)}
			default:
				out[i] = Result{OK, check, banner, ""}
			}
		})
	}
	wg.Wait()
	c.results = append(c.results, out...)
}

// probe connects and reads the greeting (or an HTTP status line).
func (c *checker) probe(ctx context.Context, addr string, s service) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var conn net.Conn
	if s.tls {
		tc, err := c.handshake(ctx, addr, c.host)
		if err != nil {
			return "", fmt.Errorf("TLS: %w", err)
		}
		conn = tc
	} else {
		raw, err := c.opts.Dial(ctx, "tcp", addr)
		if err != nil {
			return "", err
		}
		conn = raw
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	if s.greeting == "" {
		fmt.Fprintf(conn, "HEAD / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", c.host)
		line, err := readLine(conn)
		if err != nil || !strings.HasPrefix(line, "HTTP/1.") {
			return "", fmt.Errorf("no HTTP answer (%q, %v)", line, err)
		}
		return line, nil
	}
	line, err := readLine(conn)
	if err != nil && line == "" {
		return "", fmt.Errorf("no greeting: %v", err)
	}
	if !strings.HasPrefix(line, s.greeting) {
		return "", fmt.Errorf("greeting %q is not %s's (%q...)", trim(line), s.name, s.greeting)
	}
	return trim(line), nil
}

// trim shortens a greeting for one line of output and replaces what is
// not printable ASCII, so that a hostile peer cannot garble the terminal.
func trim(s string) string {
	cut := len(s) > 80
	if cut {
		s = s[:80]
	}
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
	if cut {
		s += "..."
	}
	return s
}
