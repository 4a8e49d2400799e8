// Package authlimit is the failed-login limiter shared by every protocol (SMTP
// AUTH, IMAP, POP3, webmail): after a few failures from one IP address, or
// against one account, within a window, answers slow down and then the client is
// refused for a while. It keeps only counters in memory.
//
// Invariants: Check never blocks; the caller sleeps the returned delay itself
// (outside any lock) before it answers, so a slow client cannot hold others up.
// Per-account limits are higher than per-IP ones, so that an attacker cannot
// lock a user out from a single address; the account limit only slows down.
package authlimit

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ErrBlocked means the client must be refused without checking the password.
var ErrBlocked = errors.New("too many failed logins; try again later")

// Config tunes a Limiter. Zero fields take defaults.
type Config struct {
	// PerMinute is how many failures one IP may make in Window before being
	// blocked (default 5, as the SMTP issue asks; 0 in New means default).
	PerMinute int
	Window    time.Duration // default 1 minute
	Block     time.Duration // how long a blocked IP stays blocked (default 5 minutes)
	MaxDelay  time.Duration // cap of the growing delay (default 5 s)
	Now       func() time.Time
}

type entry struct {
	failures     []time.Time
	blockedUntil time.Time
}

// Limiter counts failures per IP (IPv6 per /64) and per account.
type Limiter struct {
	cfg Config
	mu  sync.Mutex
	ips map[netip.Prefix]*entry
	acc map[string]*entry
	// nextGC is the map size at which gc next scans: doubling it after each
	// scan keeps the cost amortised O(1) per failure.
	nextGC int
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.PerMinute <= 0 {
		cfg.PerMinute = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Block <= 0 {
		cfg.Block = 5 * time.Minute
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, ips: map[netip.Prefix]*entry{}, acc: map[string]*entry{}, nextGC: 10000}
}

// key groups IPv6 addresses by /64: one host usually owns a whole /64.
func key(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p
	}
	p, _ := ip.Prefix(32)
	return p
}

func (l *Limiter) recent(e *entry, now time.Time) int {
	cut := now.Add(-l.cfg.Window)
	i := 0
	for i < len(e.failures) && e.failures[i].Before(cut) {
		i++
	}
	e.failures = e.failures[i:]
	return len(e.failures)
}

// Check says whether a login attempt from ip for account may proceed, and how
// long to wait before answering it. account may be "" when not yet known.
func (l *Limiter) Check(ip netip.Addr, account string) (time.Duration, error) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var delay time.Duration
	if e := l.ips[key(ip)]; e != nil {
		if now.Before(e.blockedUntil) {
			return 0, ErrBlocked
		}
		delay = l.delay(l.recent(e, now))
	}
	if e := l.acc[strings.ToLower(account)]; account != "" && e != nil {
		// An account under attack from many addresses is slowed, never locked.
		delay = max(delay, l.delay(l.recent(e, now)/4))
	}
	return delay, nil
}

// delay grows with the failures beyond the first two: 250 ms, 500 ms, 1 s, ...
func (l *Limiter) delay(n int) time.Duration {
	if n < 2 {
		return 0
	}
	d := 250 * time.Millisecond << min(n-2, 10)
	return min(d, l.cfg.MaxDelay)
}

// Failure records a failed login. It reports whether the IP is now blocked.
func (l *Limiter) Failure(ip netip.Addr, account string) bool {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gc(now)
	k := key(ip)
	e := l.ips[k]
	if e == nil {
		e = &entry{}
		l.ips[k] = e
	}
	e.failures = append(e.failures, now)
	blocked := false
	if l.recent(e, now) > l.cfg.PerMinute {
		e.blockedUntil = now.Add(l.cfg.Block)
		blocked = true
	}
	if account != "" {
		a := strings.ToLower(account)
		ae := l.acc[a]
		if ae == nil {
			ae = &entry{}
			l.acc[a] = ae
		}
		ae.failures = append(ae.failures, now)
	}
	return blocked
}

// Success forgets the IP's failures (a user who finally typed the right
// password is not slowed down further).
func (l *Limiter) Success(ip netip.Addr, account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.ips[key(ip)]; e != nil && l.cfg.Now().After(e.blockedUntil) {
		delete(l.ips, key(ip))
	}
}

// gc drops idle entries so that a scan from many addresses cannot grow the maps
// without bound. It runs when the maps are large, amortised over failures.
func (l *Limiter) gc(now time.Time) {
	if len(l.ips)+len(l.acc) < l.nextGC {
		return
	}
	defer func() { l.nextGC = max(10000, 2*(len(l.ips)+len(l.acc))) }()
	for k, e := range l.ips {
		if l.recent(e, now) == 0 && now.After(e.blockedUntil) {
			delete(l.ips, k)
		}
	}
	for k, e := range l.acc {
		if l.recent(e, now) == 0 {
			delete(l.acc, k)
		}
	}
}
