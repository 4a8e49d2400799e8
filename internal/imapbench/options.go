// Package imapbench is an IMAP load generator in the spirit of imaptest's
// default profile, used by `gannet bench imap` to measure Gannet against other
// servers (Dovecot) on the same machine.
//
// Each of Options.Clients goroutines loops over sessions: connect, LOGIN,
// SELECT INBOX, UID FETCH 1:* (FLAGS), UID FETCH of a few bodies
// (BODY.PEEK[]), UID SEARCH on a header, UID STORE +FLAGS (\Seen) on a few
// messages and (\Deleted) on one, EXPUNGE, APPEND of a 2-4 KB message, LOGOUT.
// Every command that completes with OK is one op; every command that fails
// (NO, BAD, I/O error, timeout) is one error, reported per command with sample
// texts, and ends that session.
//
// The client speaks the wire protocol itself rather than through imapclient:
// on a two-core machine the load generator shares the CPU with the server
// under test, so its own cost must be small, and it must send exactly the same
// commands to every server (imapclient may add CAPABILITY commands of its own,
// depending on what a server sends unasked).
//
// Invariants: only loopback addresses are accepted (load never leaves the machine);
// every run is bounded by Options.Duration and Options.MaxOps; every network
// read and write has a deadline; there is no package state, so concurrent
// Runs are independent.
package imapbench

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Limits and defaults of Options.
const (
	// MaxDuration bounds a run, as the bench scripts bound theirs: a
	// forgotten load generator must not run for hours.
	MaxDuration     = 10 * time.Minute
	DefaultDuration = 10 * time.Second
	DefaultClients  = 4
	MaxClients      = 1000
	// DefaultMaxOps bounds a run's ops and so the memory of its latency
	// samples (8 bytes each).
	DefaultMaxOps = 5_000_000
	// DefaultTimeout bounds each command's round trip.
	DefaultTimeout = 30 * time.Second
	// maxSampleErrors is how many error texts a Result keeps.
	maxSampleErrors = 10
)

// Options configure a Run.
type Options struct {
	Addr string // host:port, loopback only
	// TLS dials with implicit TLS (port 993 style, RFC 8314).
	TLS bool
	// InsecureSkipVerify accepts any certificate, as the self-signed
	// certificates of test servers require.
	InsecureSkipVerify bool
	// Users is a login name, or a template with one %d expanded over
	// UserRange ("test%d@example.test" or "test%d").
	Users string
	// UserRange is "FIRST-LAST" (or "N") for the %d of Users; default "1".
	UserRange string
	Password  string
	Clients   int           // concurrent sessions; default DefaultClients
	Duration  time.Duration // default DefaultDuration, at most MaxDuration
	// MaxOps stops the run early once this many commands have completed;
	// default DefaultMaxOps.
	MaxOps int64
	// Seed makes the choice of users, messages and words repeatable.
	Seed uint64
	// Timeout bounds each command's round trip; default DefaultTimeout.
	Timeout time.Duration
}

// withDefaults validates o and fills in defaults. It returns the login names.
func (o *Options) withDefaults() ([]string, error) {
	if err := CheckLoopback(o.Addr); err != nil {
		return nil, err
	}
	if o.Users == "" {
		return nil, errors.New("no users given")
	}
	users, err := ExpandUsers(o.Users, o.UserRange)
	if err != nil {
		return nil, err
	}
	switch {
	case o.Clients == 0:
		o.Clients = DefaultClients
	case o.Clients < 0 || o.Clients > MaxClients:
		return nil, fmt.Errorf("clients %d: want 1..%d", o.Clients, MaxClients)
	}
	switch {
	case o.Duration == 0:
		o.Duration = DefaultDuration
	case o.Duration < 0 || o.Duration > MaxDuration:
		return nil, fmt.Errorf("duration %v: want more than 0 and at most %v", o.Duration, MaxDuration)
	}
	if o.MaxOps <= 0 {
		o.MaxOps = DefaultMaxOps
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return users, nil
}

// CheckLoopback refuses any address but a loopback one: a load generator
// pointed at someone else's server is an attack. Names other than
// "localhost" are refused rather than resolved, so DNS cannot redirect it.
func CheckLoopback(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("address %q: bad port", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("refusing %q: loopback targets only (127.0.0.0/8, ::1)", addr)
	}
	return nil
}

// ExpandUsers expands a template with one %d over a range "FIRST-LAST" (or
// "N"); a name without %d is the only user and takes no range.
func ExpandUsers(template, rng string) ([]string, error) {
	n := strings.Count(template, "%")
	if n == 0 {
		if rng != "" {
			return nil, fmt.Errorf("user range %q given but %q has no %%d", rng, template)
		}
		return []string{template}, nil
	}
	if n != 1 || !strings.Contains(template, "%d") {
		return nil, fmt.Errorf("user template %q: want exactly one %%d", template)
	}
	if rng == "" {
		rng = "1"
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		b = a
	}
	first, err1 := strconv.Atoi(a)
	last, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || first < 0 || last < first || last-first >= 100_000 {
		return nil, fmt.Errorf("user range %q: want FIRST-LAST, 0 <= FIRST <= LAST, at most 100000 users", rng)
	}
	users := make([]string, 0, last-first+1)
	for i := first; i <= last; i++ {
		users = append(users, fmt.Sprintf(template, i))
	}
	return users, nil
}
