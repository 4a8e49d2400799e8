// Package doctor checks, from the outside, that a mail domain served by
// Gannet is set up right: the live DNS records (MX, A/AAAA, PTR, SPF, both
// DKIM keys, DMARC, MTA-STS, TLS-RPT, SRV, the autoconfig names), the
// certificate, and that every configured port answers with its protocol's
// greeting. It is what `gannet doctor` prints (docs/ARCHITECTURE.md,
// "gannet doctor").
//
// Invariants:
//   - What a record should say comes from mailauth.DNSRecords over the same
//     mailauth.DNSConfig that `gannet domain dns` prints and the server serves
//     (its MTA-STS policy), so a FAIL's fix is the exact line to publish.
//   - Every lookup goes through the injected Resolver and every connection
//     through the injected dialer: tests run against a DNS server and
//     listeners on loopback, never the real DNS.
//   - Each check yields one Result; a check never panics or hangs on
//     whatever the DNS or a port answers (every network step has a deadline,
//     every read is bounded).
package doctor

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"gannet/internal/dnsx"
	"gannet/internal/mailauth"
)

// Resolver is the DNS the doctor asks: a dnsx.Resolver that also answers
// PTR and SRV queries (dnsx.Client does).
type Resolver interface {
	dnsx.Resolver
	LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error)
	LookupSRV(ctx context.Context, name string) ([]*net.SRV, error)
}

// Status is a check's verdict.
type Status int

// The verdicts, in increasing gravity.
const (
	OK Status = iota
	Warn
	Fail
)

func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case Warn:
		return "WARN"
	}
	return "FAIL"
}

// Result is the outcome of one check.
type Result struct {
	Status Status
	Check  string // what was checked, e.g. "MX example.com" or "DKIM ed25519-20260101"
	Msg    string // what was found, in plain words
	Fix    string // what to do about it; "" when nothing
}

// String is the result as one line: "FAIL MX example.com: no MX record; fix: publish ...".
func (r Result) String() string {
	s := fmt.Sprintf("%-4s %s: %s", r.Status, r.Check, r.Msg)
	if r.Fix != "" {
		s += "; fix: " + r.Fix
	}
	return s
}

// Ports are the ports the server listens on (0 = not configured).
type Ports struct {
	SMTP, Submission, Submissions, IMAP, IMAPS, POP3, POP3S, HTTPS int
}

// Options say what to check and how.
type Options struct {
	// DNS describes the domain as Gannet serves it (domain, host name, DKIM
	// keys): the records it should have are derived from it.
	DNS mailauth.DNSConfig
	// Resolver answers every DNS query. Required.
	Resolver Resolver
	// Ports to probe on the host's addresses.
	Ports Ports
	// RootCAs verify the server's certificates; nil = the system's roots.
	RootCAs *x509.CertPool
	// Dial opens connections; nil = a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds each network step; 10 s when zero.
	Timeout time.Duration
	// Now is the clock for certificate expiry; nil = time.Now.
	Now func() time.Time
}

// ExpiryWarning is how long before a certificate expires the doctor warns.
// ACME renews 30 days before expiry, so a certificate this close to its end
// has failed to renew.
const ExpiryWarning = 14 * 24 * time.Hour

// Run checks one domain and returns a result per check, in a fixed order.
func Run(ctx context.Context, opts Options) ([]Result, error) {
	if opts.Resolver == nil {
		return nil, fmt.Errorf("doctor: no resolver")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.Timeout}
		opts.Dial = d.DialContext
	}
	recs, err := mailauth.DNSRecords(opts.DNS)
	if err != nil {
		return nil, fmt.Errorf("doctor: %w", err)
	}
	c := &checker{opts: opts, recs: recs,
		domain: dnsx.Canonical(opts.DNS.Domain), host: dnsx.Canonical(opts.DNS.Host)}
	c.checkMX(ctx)
	c.checkAddrs(ctx)
	c.checkPTR(ctx)
	c.checkSPF(ctx)
	c.checkDKIM(ctx)
	c.checkDMARC(ctx)
	c.checkMTASTS(ctx)
	c.checkTLSRPT(ctx)
	c.checkSRV(ctx)
	c.checkServiceNames(ctx)
	c.checkCertificates(ctx)
	c.checkPorts(ctx)
	return c.results, nil
}

// Failed reports whether any result is a Fail.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// checker holds one run's state.
type checker struct {
	opts    Options
	recs    []mailauth.Record
	domain  string
	host    string
	addrs   []netip.Addr // the host's addresses, once checkAddrs has run
	results []Result
}

func (c *checker) add(s Status, check, msg, fix string) {
	c.results = append(c.results, Result{Status: s, Check: check, Msg: msg, Fix: fix})
}

// record returns the expected record of type typ at name (absolute, with
// the dot), as the line to publish.
func (c *checker) record(name, typ string) string {
	for _, r := range c.recs {
		if r.Name == name && r.Type == typ {
			return r.String()
		}
	}
	return ""
}

func publish(rec string) string { return "publish " + rec }

// lookupWords tells a definitive "no such record" from a lookup failure,
// in words for a message.
func lookupWords(err error) string {
	if errorsIsNotFound(err) {
		return "no record"
	}
	return "lookup failed (" + err.Error() + ")"
}

// readLine reads one line of at most 4 KiB from r: a greeting, never an
// unbounded buffer.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for b.Len() < 4096 {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimRight(b.String(), "\r"), nil
			}
			b.WriteByte(buf[0])
		}
		if err != nil {
			return b.String(), err
		}
	}
	return b.String(), fmt.Errorf("line longer than 4 KiB")
}
