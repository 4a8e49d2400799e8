// Package login is the one login sequence every protocol uses (IMAP LOGIN and
// AUTHENTICATE, POP3 USER/PASS and AUTH, SMTP AUTH, the webmail's login):
//
//	failed-login limiter (attempts in flight: at most a few per address,
//	counted as failures once the address has failed)
//	  → the limiter's delay
//	  → bounded password hashing (store.Authenticate under a semaphore)
//	  → a typed Result: OK, Wrong, Blocked or Unavailable
//
// and each protocol turns the Result into its own answer (IMAP NO
// [AUTHENTICATIONFAILED] / NO [UNAVAILABLE], POP3 -ERR [AUTH] / -ERR
// [SYS/TEMP], SMTP 535 5.7.8 / 454 4.7.0, HTTP 401 / 429 / 503).
//
// Invariants:
//   - Every attempt is counted by the authlimit.Limiter from before its delay
//     until its verdict (authlimit.Limiter.Begin): at most MaxInFlight run at
//     once per address (the others wait their turn, at most QueueWait), and
//     once the address has failed they count as failures, so a burst of
//     simultaneous guesses from one address is refused before it is hashed
//     (at most PerMinute+1 are ever checked), while good logins from one
//     address (a NAT, a poller) are neither slowed nor refused. Only a checked wrong password (or unknown user)
//     becomes a failure; an attempt the server could not check (store error,
//     hashing queue full, shutdown) is forgotten, and a good login forgets
//     only its own account's failures from that address.
//   - At most Capacity password checks (store.Authenticate calls, which run
//     argon2id inside the store) run at once per Service; a caller that finds
//     every slot taken waits at most QueueWait, then gets Unavailable. Memory
//     is what this bounds: an argon2id check allocates its m parameter, 19 MiB
//     with password.DefaultParams, and holds it for its whole run, so password
//     checking holds at most Capacity × 19 MiB live at any moment (Capacity ×
//     the largest m among the stored hashes if an administrator imported
//     heavier ones; the password package accepts up to 256 MiB). Each check
//     leaves its 19 MiB as garbage, which Go's collector lets accumulate up
//     to GOGC percent of the live heap before it runs: the heap that hashing
//     causes is at most Capacity × 19 MiB × (1 + GOGC/100), and never more
//     than the Go memory limit allows (gannet serve sets GOGC=400 under a
//     limit of half the machine's memory). The default capacity,
//     max(2, min(2 × NumCPU, memory / SlotMemory)), keeps that a small part
//     of the process's memory (DefaultCapacity): on 2 CPUs, 4 slots, 76 MiB
//     live. Measured (imapserver TestLoginWaveMemory, GOGC=100): 200
//     simultaneous wrong logins grow the heap by about 150 MiB, where
//     hashing them all at once took 3.8 GB.
//   - SCRAM-SHA-256 checks no password on the server (the client does the
//     PBKDF2 work), so it goes through the limiter but not the semaphore.
//   - Nothing here logs or returns a failed login's user name: Result's log
//     value carries a short keyed hash of it (UserHash) instead, since users
//     type passwords into the user name field. Passwords are never logged.
//
// Share one Service between every server of a process, so that the cap holds
// for the whole process and SCRAM's fake salts for unknown users are the same
// on every protocol.
package login

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
)

// DefaultQueueWait is how long a login waits for a hashing slot by default.
const DefaultQueueWait = 5 * time.Second

// ErrBusy is the cause of an Unavailable result when every hashing slot
// stayed taken for QueueWait.
var ErrBusy = errors.New("password checking at capacity")

// Config tunes a Service. Zero fields take defaults.
type Config struct {
	// Capacity is how many password checks may run at once; 0 =
	// DefaultCapacity().
	Capacity int
	// QueueWait bounds how long a login waits for a slot; 0 = DefaultQueueWait.
	QueueWait time.Duration
	// Logger receives the service's own warnings (an account whose SCRAM keys
	// are unusable); nil = discard.
	Logger *slog.Logger
	// Sleep waits d (the limiter's delay) or until ctx ends; nil = a timer.
	// Tests replace it to observe delays.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Service runs logins against one store and one failed-login limiter. It is
// safe for concurrent use.
type Service struct {
	st    store.Store
	lim   *authlimit.Limiter
	cfg   Config
	log   *slog.Logger
	slots chan struct{} // one token per password check running
	// key keys UserHash; scramSecret keys SCRAM's fake credentials for
	// unknown users. Both are random per Service.
	key         []byte
	scramSecret []byte
}

// New returns a Service over st. lim is the failed-login limiter shared by
// every protocol; nil makes a private one with defaults.
func New(st store.Store, lim *authlimit.Limiter, cfg Config) *Service {
	if lim == nil {
		lim = authlimit.New(authlimit.Config{})
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity()
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	key := make([]byte, 64)
	rand.Read(key) // never fails (crypto/rand, Go 1.24+)
	return &Service{
		st: st, lim: lim, cfg: cfg, log: cfg.Logger,
		slots:       make(chan struct{}, cfg.Capacity),
		key:         key[:32],
		scramSecret: key[32:],
	}
}

// Capacity is how many password checks may run at once.
func (s *Service) Capacity() int { return cap(s.slots) }

// Limiter is the failed-login limiter the service counts with.
func (s *Service) Limiter() *authlimit.Limiter { return s.lim }

// Outcome is what became of a login attempt.
type Outcome int

// The outcomes. The zero value is Unavailable, so that a Result nobody
// filled in never lets anyone in.
const (
	// Unavailable: the server could not check the credentials now (store
	// error, every hashing slot busy for QueueWait, shutdown); try later.
	Unavailable Outcome = iota
	// OK: the credentials are good; Result.Account is the account.
	OK
	// Wrong: wrong password, unknown user or a refused authorization
	// identity; counted as a failure.
	Wrong
	// Blocked: too many failures (or attempts in flight) from the client's
	// address; refused without looking at the credentials.
	Blocked
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Wrong:
		return "wrong"
	case Blocked:
		return "blocked"
	}
	return "unavailable"
}

// Result is the outcome of one login attempt.
type Result struct {
	Outcome Outcome
	Account *store.Account // with OK
	// Err is the cause of Unavailable (a store error, ErrBusy, the context's
	// error), for logs; clients must not see it.
	Err error
	// NowBlocked is set on a Wrong that made the limiter block the address.
	NowBlocked bool
	// UserHash stands for the user name in logs (see Service.UserHash); set
	// on every outcome but OK.
	UserHash string
}

// LogValue is what a Result logs: the outcome, and the account for OK or the
// user name's hash otherwise, never the name (implements slog.LogValuer).
func (r Result) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("outcome", r.Outcome.String())}
	if r.Outcome == OK && r.Account != nil {
		attrs = append(attrs, slog.String("account", r.Account.Address))
	} else {
		attrs = append(attrs, slog.String("user_hash", r.UserHash))
	}
	if r.NowBlocked {
		attrs = append(attrs, slog.Bool("now_blocked", true))
	}
	if r.Err != nil {
		attrs = append(attrs, slog.String("err", r.Err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// UserHash is a short keyed hash of a login name for logs: the first 8 bytes
// of HMAC-SHA256 under the service's random key, in hex. Attempts with one
// name (in any case) share a hash within one process, so that logs still show
// one name being guessed, but the name (often a password typed in the wrong
// field) cannot be read back, nor guessed from the log offline.
func (s *Service) UserHash(user string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.ToLower(user)))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Password checks a password login from ip: user (a login name, as
// store.LoginAccount takes it) and password, with identity the SASL
// authorization identity ("" when none). Gannet has no proxy authorization,
// so an identity other than the user fails like a wrong password (RFC 4616
// 2). It waits the limiter's delay and for a hashing slot, so it may take a
// few seconds; ctx ends the wait.
func (s *Service) Password(ctx context.Context, ip netip.Addr, identity, user, password string) Result {
	hash := s.UserHash(user)
	att, res := s.begin(ctx, ip, user, hash)
	if att == nil {
		return res
	}
	defer att.Abandon() // for every path that gives no verdict
	if identity != "" && !strings.EqualFold(identity, user) {
		return Result{Outcome: Wrong, NowBlocked: att.Failure(), UserHash: hash}
	}
	acct, err := s.authenticate(ctx, user, password)
	switch {
	case errors.Is(err, store.ErrAuthFailed), errors.Is(err, store.ErrNotFound):
		return Result{Outcome: Wrong, NowBlocked: att.Failure(), UserHash: hash}
	case err != nil:
		return Result{Outcome: Unavailable, Err: err, UserHash: hash}
	}
	att.Success(acct.Address)
	return Result{Outcome: OK, Account: acct}
}

// begin starts an attempt with the limiter and waits its delay. A nil
// attempt comes with the Result to answer (Blocked, or Unavailable when ctx
// ended during the delay).
func (s *Service) begin(ctx context.Context, ip netip.Addr, user, hash string) (*authlimit.Attempt, Result) {
	att, delay, err := s.lim.Begin(ip, user)
	if errors.Is(err, authlimit.ErrBusy) {
		att, delay, err = s.waitTurn(ctx, ip, user)
		if errors.Is(err, authlimit.ErrBusy) || ctx.Err() != nil {
			return nil, Result{Outcome: Unavailable, Err: ErrBusy, UserHash: hash}
		}
	}
	if err != nil {
		return nil, Result{Outcome: Blocked, UserHash: hash}
	}
	if delay > 0 {
		// authlimit: the caller waits, outside any lock, counted in flight.
		if err := s.cfg.Sleep(ctx, delay); err != nil {
			att.Abandon()
			return nil, Result{Outcome: Unavailable, Err: err, UserHash: hash}
		}
	}
	return att, Result{}
}

// busyPoll is how often an attempt that found its address's in-flight
// attempts at the limit tries again. Those attempts are password checks
// (tens of milliseconds) or cache hits (microseconds), so a short poll keeps
// a burst of good logins from one address quick.
const busyPoll = 5 * time.Millisecond

// waitTurn calls Begin again until the address has room for one more
// attempt in flight, at most QueueWait; it returns Begin's last answer.
func (s *Service) waitTurn(ctx context.Context, ip netip.Addr, user string) (*authlimit.Attempt, time.Duration, error) {
	deadline := time.Now().Add(s.cfg.QueueWait)
	t := time.NewTimer(busyPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		case <-t.C:
		}
		att, delay, err := s.lim.Begin(ip, user)
		if !errors.Is(err, authlimit.ErrBusy) || time.Now().After(deadline) {
			return att, delay, err
		}
		t.Reset(busyPoll)
	}
}

// authenticate runs store.Authenticate (argon2id inside) in a hashing slot,
// waiting at most QueueWait for one.
func (s *Service) authenticate(ctx context.Context, user, password string) (*store.Account, error) {
	t := time.NewTimer(s.cfg.QueueWait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a hashing slot: %w", ctx.Err())
	}
	defer func() { <-s.slots }()
	acct, err := s.st.Authenticate(ctx, user, password)
	if err != nil && !errors.Is(err, store.ErrAuthFailed) && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return acct, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
