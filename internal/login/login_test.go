package login_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/login"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

const (
	alice   = "alice@example.org"
	alicePw = "correct horse"
	bob     = "bob@example.org"
	bobPw   = "battery staple"
)

// countingStore is the real store with Authenticate instrumented: it counts
// the calls running at once (each holds for hold, standing in for the
// argon2id time that FastPasswords removes), and the peak.
type countingStore struct {
	store.Store
	hold                 time.Duration
	calls, running, peak atomic.Int32
}

func (c *countingStore) Authenticate(ctx context.Context, user, pw string) (*store.Account, error) {
	c.calls.Add(1)
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(c.hold)
	return c.Store.Authenticate(ctx, user, pw)
}

// openStore opens a fresh store (testopen: SQLite in t.TempDir() unless
// GANNET_TEST_STORE says otherwise) with alice and bob.
func openStore(t *testing.T, fast bool) store.Store {
	t.Helper()
	var opts []testopen.Option
	if fast {
		opts = append(opts, testopen.FastPasswords)
	}
	st := testopen.Open(t, opts...)
	storetest.NewAccount(t, st, alice, alicePw)
	storetest.NewAccount(t, st, bob, bobPw)
	return st
}

// fastLimiter has the production shape (5 failures a minute) with delays
// capped to 1 ms so that tests do not wait.
func fastLimiter() *authlimit.Limiter {
	return authlimit.New(authlimit.Config{PerMinute: 5, MaxDelay: time.Millisecond})
}

func addr(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}) }

func TestOutcomes(t *testing.T) {
	t.Parallel()
	svc := login.New(openStore(t, true), fastLimiter(), login.Config{})
	ctx := t.Context()
	ip := addr(1)
	cases := []struct {
		name               string
		identity, user, pw string
		want               login.Outcome
	}{
		{"good", "", alice, alicePw, login.OK},
		{"good, upper case, own identity", "ALICE@example.org", "Alice@Example.org", alicePw, login.OK},
		{"name without domain", "", "alice", alicePw, login.OK},
		{"wrong password", "", alice, "nope", login.Wrong},
		{"unknown user", "", "nobody@example.org", alicePw, login.Wrong},
		{"other identity", bob, alice, alicePw, login.Wrong},
	}
	for _, c := range cases {
		r := svc.Password(ctx, ip, c.identity, c.user, c.pw)
		if r.Outcome != c.want {
			t.Errorf("%s: %v (%v), want %v", c.name, r.Outcome, r.Err, c.want)
		}
		if (r.Account != nil) != (c.want == login.OK) || (r.Account != nil && r.Account.Address != alice) {
			t.Errorf("%s: account %+v", c.name, r.Account)
		}
	}
	var zero login.Result
	if zero.Outcome != login.Unavailable {
		t.Error("the zero Result is not Unavailable: an unset result would let a client in")
	}
}

// TestBlocked: the sixth failure blocks the address, which then gets Blocked
// even with the right password, without a password check.
func TestBlocked(t *testing.T) {
	t.Parallel()
	cs := &countingStore{Store: openStore(t, true)}
	svc := login.New(cs, fastLimiter(), login.Config{})
	ip := addr(2)
	for i := range 6 {
		r := svc.Password(t.Context(), ip, "", alice, "guess")
		if r.Outcome != login.Wrong || r.NowBlocked != (i == 5) {
			t.Fatalf("guess %d: %+v", i, r)
		}
	}
	before := cs.calls.Load()
	if r := svc.Password(t.Context(), ip, "", alice, alicePw); r.Outcome != login.Blocked {
		t.Fatalf("right password from a blocked address: %v", r.Outcome)
	}
	if cs.calls.Load() != before {
		t.Error("a blocked attempt reached the store")
	}
	if r := svc.Password(t.Context(), addr(3), "", alice, alicePw); r.Outcome != login.OK {
		t.Errorf("another address: %v", r.Outcome)
	}
}

// TestBurstFromOneAddress (issue 13 finding 4): 200 simultaneous wrong
// logins from one address. The limiter counts the attempts in flight, so at
// most PerMinute+1 of them reach the password check and the rest are refused
// before it; and never more than Capacity checks run at once. On the old
// code every one of the 200 ran argon2id at the same time.
func TestBurstFromOneAddress(t *testing.T) {
	t.Parallel()
	cs := &countingStore{Store: openStore(t, true), hold: 20 * time.Millisecond}
	svc := login.New(cs, fastLimiter(), login.Config{Capacity: 2})
	outcomes := burst(t, svc, 200, func(int) netip.Addr { return addr(4) })
	if n := cs.calls.Load(); n > 6 {
		t.Errorf("%d of 200 simultaneous attempts from one address reached the password check, want at most 6", n)
	}
	if p := cs.peak.Load(); p > 2 {
		t.Errorf("%d password checks ran at once with Capacity 2", p)
	}
	if outcomes[login.Blocked] < 194 || outcomes[login.OK] != 0 {
		t.Errorf("outcomes %v: want at least 194 blocked before any check", outcomes)
	}
}

// TestCapacity: 200 simultaneous logins from 200 addresses (no limiter
// refusal) never run more than Capacity password checks at once; they queue,
// and those that wait longer than QueueWait are Unavailable with ErrBusy.
func TestCapacity(t *testing.T) {
	t.Parallel()
	cs := &countingStore{Store: openStore(t, true), hold: 5 * time.Millisecond}
	svc := login.New(cs, fastLimiter(), login.Config{Capacity: 3, QueueWait: 50 * time.Millisecond})
	var busy atomic.Int32
	outcomes := burstWith(t, 200, func(i int) login.Result {
		r := svc.Password(t.Context(), addr(100+i), "", alice, "guess")
		if errors.Is(r.Err, login.ErrBusy) {
			busy.Add(1)
		}
		return r
	})
	if p := cs.peak.Load(); p != 3 {
		t.Errorf("peak of %d password checks at once, want the capacity, 3", p)
	}
	if outcomes[login.Wrong]+outcomes[login.Unavailable] != 200 || int(busy.Load()) != outcomes[login.Unavailable] {
		t.Errorf("outcomes %v, %d busy", outcomes, busy.Load())
	}
	if outcomes[login.Unavailable] == 0 {
		t.Errorf("no attempt waited past QueueWait: outcomes %v", outcomes)
	}
	// The busy ones were not counted as failures: each address still has
	// its whole allowance.
	if d, err := svc.Limiter().Check(addr(100), ""); err != nil || d != 0 {
		t.Errorf("limiter after one attempt per address: %v %v", d, err)
	}
}

func burst(t *testing.T, svc *login.Service, n int, ip func(int) netip.Addr) map[login.Outcome]int {
	return burstWith(t, n, func(i int) login.Result {
		return svc.Password(t.Context(), ip(i), "", alice, fmt.Sprintf("guess %d", i))
	})
}

// burstWith runs f(0..n-1) at once and counts the outcomes.
func burstWith(t *testing.T, n int, f func(int) login.Result) map[login.Outcome]int {
	t.Helper()
	var mu sync.Mutex
	outcomes := map[login.Outcome]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			r := f(i)
			mu.Lock()
			outcomes[r.Outcome]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return outcomes
}

// TestGoodLoginKeepsOthersFailures (issue 13 finding 5): from one address,
// guess at bob, log in correctly as alice in between, keep guessing at bob:
// the address is blocked after as many guesses as without alice's logins.
// On the old code a success deleted the address's failures, and the
// guessing went on forever.
func TestGoodLoginKeepsOthersFailures(t *testing.T) {
	t.Parallel()
	svc := login.New(openStore(t, true), fastLimiter(), login.Config{})
	ip := addr(5)
	guesses := 0
	for i := range 30 {
		r := svc.Password(t.Context(), ip, "", bob, fmt.Sprintf("guess %d", i))
		if r.Outcome == login.Blocked {
			break
		}
		if r.Outcome != login.Wrong {
			t.Fatalf("guess %d: %v", i, r.Outcome)
		}
		guesses++
		if r.NowBlocked {
			break
		}
		if r := svc.Password(t.Context(), ip, "", alice, alicePw); r.Outcome != login.OK {
			t.Fatalf("alice's login after guess %d: %v", i, r.Outcome)
		}
	}
	if guesses != 6 {
		t.Errorf("%d guesses at bob before the block, want 6 (PerMinute+1)", guesses)
	}
}

// TestUnavailableIsNotAFailure: a store that fails gives Unavailable and
// does not count against the address.
func TestUnavailableIsNotAFailure(t *testing.T) {
	t.Parallel()
	st := openStore(t, true)
	lim := fastLimiter()
	svc := login.New(st, lim, login.Config{})
	st.Close() // every query fails from now on
	for range 10 {
		r := svc.Password(t.Context(), addr(6), "", alice, alicePw)
		if r.Outcome != login.Unavailable || r.Err == nil {
			t.Fatalf("closed store: %+v", r)
		}
	}
	if d, err := lim.Check(addr(6), alice); err != nil || d != 0 {
		t.Errorf("store errors counted as failures: %v %v", d, err)
	}
	// A cancelled context ends the wait for the limiter's delay.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	slow := authlimit.New(authlimit.Config{})
	for range 2 {
		slow.Failure(addr(7), "")
	}
	svc = login.New(st, slow, login.Config{})
	if r := svc.Password(ctx, addr(7), "", alice, alicePw); r.Outcome != login.Unavailable || !errors.Is(r.Err, context.Canceled) {
		t.Errorf("cancelled during the delay: %+v", r)
	}
}

// TestDelay: the limiter's delay is waited (through Config.Sleep) before the
// password check.
func TestDelay(t *testing.T) {
	t.Parallel()
	var slept []time.Duration
	lim := authlimit.New(authlimit.Config{})
	svc := login.New(openStore(t, true), lim, login.Config{Sleep: func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}})
	for range 4 {
		svc.Password(t.Context(), addr(8), "", alice, "guess")
	}
	if len(slept) != 2 || slept[0] != 250*time.Millisecond || slept[1] != 500*time.Millisecond {
		t.Errorf("delays %v, want [250ms 500ms] (none for the first two)", slept)
	}
}

// TestLogValue (issue 13 finding 9): a failed login's Result logs a hash of
// the user name, never the name; a good one logs the account.
func TestLogValue(t *testing.T) {
	t.Parallel()
	svc := login.New(openStore(t, true), fastLimiter(), login.Config{})
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	typed := "hunter2-typed-as-user"
	r := svc.Password(t.Context(), addr(9), "", typed, "x")
	log.Info("login", "login", r)
	out := buf.String()
	if strings.Contains(out, typed) || !strings.Contains(out, "user_hash="+svc.UserHash(typed)) {
		t.Errorf("failed login logged %q", out)
	}
	if h := svc.UserHash(typed); len(h) != 16 || h != svc.UserHash(strings.ToUpper(typed)) {
		t.Errorf("UserHash = %q", h)
	}
	if other := login.New(openStore(t, true), nil, login.Config{}); other.UserHash(typed) == svc.UserHash(typed) {
		t.Error("two services share a hash key")
	}
	buf.Reset()
	log.Info("login", "login", svc.Password(t.Context(), addr(9), "", "ALICE", alicePw))
	if out := buf.String(); !strings.Contains(out, "account="+alice) || !strings.Contains(out, "outcome=ok") {
		t.Errorf("good login logged %q", out)
	}
}

func TestDefaultCapacity(t *testing.T) {
	t.Parallel()
	if c := login.DefaultCapacity(); c < 2 {
		t.Errorf("DefaultCapacity() = %d", c)
	}
	if c := login.New(openStore(t, true), nil, login.Config{Capacity: 7}).Capacity(); c != 7 {
		t.Errorf("Capacity() = %d, want 7", c)
	}
}

// TestGoodBurstFromOneAddress: 40 simultaneous correct logins from one
// address (an office behind one NAT address, a poller, a mail client opening
// several connections) all succeed, none slowed by the limiter. Counting
// attempts in flight as failures from the start made the third of them wait
// 250 ms, the sixth 2 s, and refused the seventh: POP3 logins from 4 clients
// on one address fell to 7 sessions/s.
func TestGoodBurstFromOneAddress(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var slept []time.Duration
	cs := &countingStore{Store: openStore(t, true), hold: 2 * time.Millisecond}
	svc := login.New(cs, authlimit.New(authlimit.Config{PerMinute: 5}), login.Config{
		Sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			slept = append(slept, d)
			mu.Unlock()
			return nil
		},
	})
	outcomes := burstWith(t, 40, func(int) login.Result {
		return svc.Password(t.Context(), addr(30), "", alice, alicePw)
	})
	if outcomes[login.OK] != 40 {
		t.Errorf("outcomes %v, want 40 OK", outcomes)
	}
	if len(slept) != 0 {
		t.Errorf("good logins were delayed: %v", slept)
	}
}
