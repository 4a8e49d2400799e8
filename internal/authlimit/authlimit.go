// Package authlimit is the failed-login limiter shared by every protocol (SMTP
// AUTH, IMAP, POP3, webmail): after a few failures from one IP address, or
// against one account, within a window, answers slow down and then the client is
// refused for a while. It keeps only counters in memory.
//
// Invariants:
//   - Check and Begin never block; the caller sleeps the returned delay itself
//     (outside any lock) before it answers, so a slow client cannot hold others up.
//   - At most MaxInFlight attempts from one address are in flight (Begin
//     called, verdict not yet given) at once; Begin answers ErrBusy beyond
//     that, and the caller waits and tries again. Once an address has failed
//     recently, its attempts in flight also count as if they had failed, so
//     a burst of simultaneous guesses is refused before it is hashed, just as
//     the same guesses made one after another would be: from one address at
//     most PerMinute+1 attempts are ever checked before it is blocked. An
//     address without recent failures is neither slowed nor refused for its
//     concurrency (many clients behind one NAT address, a mail client opening
//     several connections at once, a poller logging in again and again).
//     An attempt stops counting when it ends: Failure turns it into a
//     failure, Success and Abandon forget it.
//   - A success forgets only the failures its own address made against the
//     account that logged in (the name typed and the account's address), never
//     those against other accounts: one good login cannot reset a guesser's
//     count for someone else's account.
//   - Per-account limits are higher than per-IP ones, so that an attacker cannot
//     lock a user out from a single address; the account limit only slows down.
package authlimit

import (
	"crypto/sha256"
	"errors"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrBlocked means the client must be refused without checking the password.
var ErrBlocked = errors.New("too many failed logins; try again later")

// ErrBusy means the address already has MaxInFlight attempts in flight: the
// caller should wait a little and call Begin again.
var ErrBusy = errors.New("too many logins in progress from this address")

// Config tunes a Limiter. Zero fields take defaults.
type Config struct {
	// PerMinute is how many failures one IP may make in Window before being
	// blocked (default 5, as the SMTP issue asks; 0 in New means default).
	PerMinute int
	Window    time.Duration // default 1 minute
	Block     time.Duration // how long a blocked IP stays blocked (default 5 minutes)
	MaxDelay  time.Duration // cap of the growing delay (default 5 s)
	// MaxInFlight is how many attempts one address may have in flight at
	// once (default 4: a mail client opens a few connections together).
	MaxInFlight int
	Now         func() time.Time
	// Observe, when set, is told of every failure and success this limiter
	// records itself (not of those given to Apply), after its lock is
	// released, so that other nodes' limiters can count them too (several
	// nodes on one store). It must not block.
	Observe func(Event)
}

// Event is a failed or good login, as one node's limiter shares it with the
// others. Accounts are account keys (AccountKey), never the names typed:
// people type passwords into the user name field.
type Event struct {
	Prefix netip.Prefix // the address, IPv4 /32 or IPv6 /64
	// Accounts: for a failure, the key of the name it was for (none when
	// unknown); for a success, the keys whose failures it forgets.
	Accounts []string
	Success  bool
	At       time.Time
}

// AccountKey is how the limiter keeps an account name: a digest of the name
// lower-cased, so that neither its memory nor what it shares holds what was
// typed. "" stays "" (no name).
func AccountKey(name string) string {
	if name == "" {
		return ""
	}
	h := sha256.Sum256([]byte("gannet authlimit\x00" + strings.ToLower(name)))
	return string(h[:16])
}

// failure is one failed login: when, and the (lower-cased) name it was for.
type failure struct {
	at      time.Time
	account string
}

type entry struct {
	failures     []failure
	blockedUntil time.Time
	inFlight     int // attempts begun and not yet ended (IP entries only)
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
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 4
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
	for i < len(e.failures) && e.failures[i].at.Before(cut) {
		i++
	}
	e.failures = e.failures[i:]
	return len(e.failures)
}

// Check says whether a login attempt from ip for account may proceed, and how
// long to wait before answering it. account may be "" when not yet known.
// Attempts in flight from ip count as failures. Check records nothing: a
// login uses Begin, which also counts the attempt while it runs.
func (l *Limiter) Check(ip netip.Addr, account string) (time.Duration, error) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.check(now, key(ip), account)
}

// check is Check under l.mu.
func (l *Limiter) check(now time.Time, k netip.Prefix, account string) (time.Duration, error) {
	var delay time.Duration
	if e := l.ips[k]; e != nil {
		if now.Before(e.blockedUntil) {
			return 0, ErrBlocked
		}
		// Once the address has failed, the attempts running now count as
		// failed ones: had they been made one after another, they would have
		// been counted before this one.
		n := l.recent(e, now)
		if n > 0 {
			n += e.inFlight
		}
		if n > l.cfg.PerMinute {
			// Not a block (the attempts in flight may yet succeed): this
			// attempt is refused, the next one is checked afresh.
			return 0, ErrBlocked
		}
		delay = l.delay(n)
	}
	if e := l.acc[AccountKey(account)]; account != "" && e != nil {
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

// Attempt is one login attempt in flight, from Begin until its first
// Failure, Success or Abandon (later calls do nothing). It is used by one
// goroutine.
type Attempt struct {
	l       *Limiter
	k       netip.Prefix
	account string
	ended   bool
}

// Begin starts a login attempt from ip for account (which may be "" when not
// yet known): it says, as Check does, whether the attempt may proceed and how
// long to wait first, and when it may, counts it in flight until it ends
// (see the package invariants). ErrBusy says that the address has MaxInFlight
// attempts running: wait and try again. The caller must end the attempt
// (Failure, Success or Abandon); deferring Abandon right after Begin is the
// safe way.
func (l *Limiter) Begin(ip netip.Addr, account string) (*Attempt, time.Duration, error) {
	now := l.cfg.Now()
	k := key(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	delay, err := l.check(now, k, account)
	if err != nil {
		return nil, 0, err
	}
	e := l.ips[k]
	if e == nil {
		e = &entry{}
		l.ips[k] = e
	}
	if e.inFlight >= l.cfg.MaxInFlight {
		return nil, 0, ErrBusy
	}
	e.inFlight++
	return &Attempt{l: l, k: k, account: account}, delay, nil
}

// end stops counting a in flight. It reports false if a had already ended.
// Called under l.mu.
func (a *Attempt) end() bool {
	if a == nil || a.ended {
		return false
	}
	a.ended = true
	if e := a.l.ips[a.k]; e != nil && e.inFlight > 0 {
		e.inFlight--
	}
	return true
}

// Failure ends the attempt as a failed login and records it (as
// Limiter.Failure). It reports whether the address is now blocked.
func (a *Attempt) Failure() bool {
	if a == nil {
		return false
	}
	a.l.mu.Lock()
	if !a.end() {
		a.l.mu.Unlock()
		return false
	}
	now := a.l.cfg.Now()
	blocked := a.l.failure(now, a.k, AccountKey(a.account))
	a.l.mu.Unlock()
	a.l.observeFailure(now, a.k, a.account)
	return blocked
}

// Success ends the attempt as a good login of the account whose address is
// address, and forgets the failures this IP made against the name it typed
// and against that address (as Limiter.Success).
func (a *Attempt) Success(address string) {
	if a == nil {
		return
	}
	a.l.mu.Lock()
	if !a.end() {
		a.l.mu.Unlock()
		return
	}
	now := a.l.cfg.Now()
	keys := []string{AccountKey(a.account), AccountKey(address)}
	a.l.success(now, a.k, keys)
	a.l.mu.Unlock()
	a.l.observe(Event{Prefix: a.k, Accounts: keys, Success: true, At: now})
}

// Abandon ends the attempt without a verdict (the store failed, the server
// was too busy to check, the client went away): it is neither a failure nor
// a success.
func (a *Attempt) Abandon() {
	if a == nil {
		return
	}
	a.l.mu.Lock()
	defer a.l.mu.Unlock()
	if a.end() {
		a.l.tidy(a.l.cfg.Now(), a.k)
	}
}

// tidy drops the entry of k when it holds nothing any more. Called under l.mu.
func (l *Limiter) tidy(now time.Time, k netip.Prefix) {
	if e := l.ips[k]; e != nil && e.inFlight == 0 && l.recent(e, now) == 0 && !now.Before(e.blockedUntil) {
		delete(l.ips, k)
	}
}

// Failure records a failed login. It reports whether the IP is now blocked.
func (l *Limiter) Failure(ip netip.Addr, account string) bool {
	now := l.cfg.Now()
	k := key(ip)
	l.mu.Lock()
	blocked := l.failure(now, k, AccountKey(account))
	l.mu.Unlock()
	l.observeFailure(now, k, account)
	return blocked
}

// failure is Failure under l.mu, for the account key a ("" = unknown), at
// time at (now, or a little earlier for another node's failure).
func (l *Limiter) failure(at time.Time, k netip.Prefix, a string) bool {
	now := l.cfg.Now()
	l.gc(now)
	e := l.ips[k]
	if e == nil {
		e = &entry{}
		l.ips[k] = e
	}
	e.failures = insertFailure(e.failures, failure{at: at, account: a})
	blocked := false
	if l.recent(e, now) > l.cfg.PerMinute {
		e.blockedUntil = at.Add(l.cfg.Block)
		blocked = true
	}
	if a != "" {
		ae := l.acc[a]
		if ae == nil {
			ae = &entry{}
			l.acc[a] = ae
		}
		ae.failures = insertFailure(ae.failures, failure{at: at})
	}
	return blocked
}

// insertFailure adds f keeping the list in time order (recent drops from
// the front): another node's failure may be a little older than ours.
func insertFailure(list []failure, f failure) []failure {
	i := sort.Search(len(list), func(i int) bool { return list[i].at.After(f.at) })
	return slices.Insert(list, i, f)
}

func (l *Limiter) observe(ev Event) {
	if l.cfg.Observe != nil {
		l.cfg.Observe(ev)
	}
}

func (l *Limiter) observeFailure(at time.Time, k netip.Prefix, account string) {
	ev := Event{Prefix: k, At: at}
	if account != "" {
		ev.Accounts = []string{AccountKey(account)}
	}
	l.observe(ev)
}

// Apply counts a failure or success another node recorded (its Observe), as
// if it had happened here: a burst of guesses spread over several nodes is
// blocked as it would be on one, give or take what the nodes have not yet
// heard of each other. Events older than the window change nothing.
func (l *Limiter) Apply(ev Event) {
	if !ev.Prefix.IsValid() {
		return
	}
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if ev.Success {
		l.success(now, ev.Prefix, ev.Accounts)
		return
	}
	if ev.At.Before(now.Add(-l.cfg.Window)) {
		return
	}
	a := ""
	if len(ev.Accounts) > 0 {
		a = ev.Accounts[0]
	}
	l.failure(ev.At, ev.Prefix, a)
}

// Success records a good login from ip as account (the name the client
// typed; further names, such as the account's address, may follow): the IP's
// failures against those names are forgotten (a user who finally typed the
// right password is not slowed down further), its failures against other
// accounts are kept, and a block stays until it expires.
func (l *Limiter) Success(ip netip.Addr, account string, alsoNamed ...string) {
	now := l.cfg.Now()
	k := key(ip)
	keys := []string{AccountKey(account)}
	for _, n := range alsoNamed {
		keys = append(keys, AccountKey(n))
	}
	l.mu.Lock()
	l.success(now, k, keys)
	l.mu.Unlock()
	l.observe(Event{Prefix: k, Accounts: keys, Success: true, At: now})
}

// success is Success under l.mu, for account keys.
func (l *Limiter) success(now time.Time, k netip.Prefix, keys []string) {
	e := l.ips[k]
	if e == nil || now.Before(e.blockedUntil) {
		return
	}
	e.failures = slices.DeleteFunc(e.failures, func(f failure) bool {
		return slices.Contains(keys, f.account)
	})
	l.tidy(now, k)
}

// gc drops idle entries so that a scan from many addresses cannot grow the maps
// without bound. It runs when the maps are large, amortised over failures.
func (l *Limiter) gc(now time.Time) {
	if len(l.ips)+len(l.acc) < l.nextGC {
		return
	}
	defer func() { l.nextGC = max(10000, 2*(len(l.ips)+len(l.acc))) }()
	for k, e := range l.ips {
		if l.recent(e, now) == 0 && now.After(e.blockedUntil) && e.inFlight == 0 {
			delete(l.ips, k)
		}
	}
	for k, e := range l.acc {
		if l.recent(e, now) == 0 {
			delete(l.acc, k)
		}
	}
}
