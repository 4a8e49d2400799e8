package mailauth

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
)

// Options configures a Checker.
type Options struct {
	// Resolver answers every DNS query. Required.
	Resolver Resolver
	// IsNotFound tells a definitive NXDOMAIN/NODATA answer from a temporary
	// failure in the Resolver's errors. Nil means errors.Is(err, ErrNotFound)
	// or a *net.DNSError with IsNotFound; a resolver with its own sentinel
	// passes e.g. func(err error) bool { return errors.Is(err, dnsx.ErrNotFound) }.
	IsNotFound func(error) bool
	// Hostname is our authserv-id in Authentication-Results (RFC 8601 2.5),
	// normally the MX host name. Required.
	Hostname string
	// Rand returns a uniform random integer in [0, n) for DMARC pct sampling
	// (RFC 7489 6.6.4). It must be safe for concurrent use. Nil means
	// math/rand/v2.IntN.
	Rand func(n int) int
	// MaxSignatures bounds the DKIM signatures verified per message. Zero
	// means MaxSignatures (5).
	MaxSignatures int
}

// Checker runs the inbound checks. It is immutable and safe for concurrent
// use.
type Checker struct {
	dns      dns
	hostname string
	rand     func(int) int
	maxSigs  int
}

// New returns a Checker for opts.
func New(opts Options) (*Checker, error) {
	if opts.Resolver == nil {
		return nil, errors.New("mailauth: no resolver")
	}
	if opts.Hostname == "" {
		return nil, errors.New("mailauth: no hostname (authserv-id)")
	}
	c := &Checker{
		dns:      dns{r: opts.Resolver, isNotFound: opts.IsNotFound},
		hostname: opts.Hostname,
		rand:     opts.Rand,
		maxSigs:  opts.MaxSignatures,
	}
	if c.dns.isNotFound == nil {
		c.dns.isNotFound = defaultIsNotFound
	}
	if c.rand == nil {
		c.rand = rand.IntN
	}
	if c.maxSigs <= 0 {
		c.maxSigs = MaxSignatures
	}
	return c, nil
}

// Hostname returns the authserv-id the Checker writes and strips.
func (c *Checker) Hostname() string { return c.hostname }

// Input is what the SMTP server knows about one received message.
type Input struct {
	RemoteIP netip.Addr // the connecting client
	Helo     string     // the EHLO/HELO argument
	MailFrom string     // MAIL FROM address without brackets; "" for <>
	Raw      []byte     // the message as received (CRLF line endings)
}

// Result holds every verdict on a message and what to do with it.
type Result struct {
	SPF   SPFResult
	DKIM  []DKIMResult // one per verified signature, in header order; empty if unsigned
	DMARC DMARCResult
	// Disposition is DMARC's: Accept, Quarantine (file into Junk) or Reject
	// (550 5.7.1 at end of DATA). It is Accept for every result but a DMARC
	// fail under a quarantine or reject policy.
	Disposition Disposition
	// Header is the Authentication-Results field to prepend, with CRLF.
	Header string
}

// Check runs SPF, DKIM and DMARC on a message received from the outside
// (RFC 7489 6.6.2 order: SPF and DKIM, then DMARC over their results) and
// formats the Authentication-Results field. DNS failures become temperror
// results, never errors: Check always returns a usable Result.
func (c *Checker) Check(ctx context.Context, in Input) Result {
	var r Result
	r.SPF = c.SPF(ctx, in.RemoteIP, in.Helo, in.MailFrom)
	r.DKIM = c.DKIM(ctx, in.Raw)
	r.DMARC = c.DMARC(ctx, in.Raw, r.SPF, r.DKIM)
	r.Disposition = r.DMARC.Disposition
	r.Header = FormatResults(c.hostname, r.SPF, r.DKIM, r.DMARC)
	return r
}

// Stamp returns the message as it should be delivered: forged
// Authentication-Results fields claiming our hostname removed (RFC 8601 5)
// and r.Header prepended. raw is not modified.
func (c *Checker) Stamp(raw []byte, r Result) []byte {
	clean := StripResults(raw, c.hostname)
	out := make([]byte, 0, len(r.Header)+len(clean))
	out = append(out, r.Header...)
	return append(out, clean...)
}
