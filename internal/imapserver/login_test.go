package imapserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/imapserver"
	"gannet/internal/login"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// hashCounter is the real store with Authenticate (where argon2id runs)
// counted: how many run at once at most, and how many in all.
type hashCounter struct {
	store.Store
	calls, running, peak atomic.Int32
}

func (h *hashCounter) Authenticate(ctx context.Context, user, pw string) (*store.Account, error) {
	h.calls.Add(1)
	n := h.running.Add(1)
	defer h.running.Add(-1)
	for p := h.peak.Load(); n > p && !h.peak.CompareAndSwap(p, n); p = h.peak.Load() {
	}
	return h.Store.Authenticate(ctx, user, pw)
}

// heapPeak samples the Go heap until stop is called, which returns the
// largest HeapAlloc seen.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var m runtime.MemStats
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); <-finished; return peak }
}

// loginBurst opens n connections at once, the i-th from source address
// from(i), each sending one wrong LOGIN, and counts the tagged answers by
// their first words ("NO [AUTHENTICATIONFAILED]", "NO [UNAVAILABLE]"; "BYE
// at connect" for a connection a connection limit refused).
func loginBurst(t *testing.T, addr string, n int, from func(int) netip.Addr) map[string]int {
	t.Helper()
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			answer := func() string {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from(i).AsSlice()}, Timeout: ioWait}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					return "dial error"
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(ioWait))
				r := bufio.NewReader(c)
				g, err := r.ReadString('\n')
				if err != nil {
					return "greeting error"
				}
				if strings.HasPrefix(g, "* BYE") {
					// A connection limit refused it: never reached LOGIN.
					return "BYE at connect"
				}
				<-start
				fmt.Fprintf(c, "a LOGIN %s \"guess %d\"\r\n", testUser, i)
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return "read error" // on the old code: 20 s without an answer
					}
					if rest, ok := strings.CutPrefix(l, "a "); ok {
						f := strings.Fields(rest)
						return strings.Join(f[:min(2, len(f))], " ")
					}
				}
			}()
			mu.Lock()
			got[answer]++
			mu.Unlock()
		})
	}
	time.Sleep(100 * time.Millisecond) // let every connection get its greeting
	close(start)
	wg.Wait()
	return got
}

// TestLoginWaveMemory (issue 13 finding 4): 200 simultaneous wrong LOGINs
// over real IMAP connections, with real argon2id (19 MiB per hash), first
// from one address, then from 200. On the old code every one of them ran
// argon2id at once: about 3.8 GB of heap. Now the limiter counts the
// attempts in flight, so from one address at most PerMinute+1 are hashed;
// from many addresses the login service's hashing slots bound how many run at
// once, the rest wait at most QueueWait and are told to try later; and the
// heap stays within Capacity hashes (twice over for the collector's slack)
// plus a margin.
//
// It measures the process's heap, so it does not run in parallel with the
// package's other tests (t.Parallel tests wait until it is done).
func TestLoginWaveMemory(t *testing.T) {
	st := testopen.Open(t)
	storetest.NewAccount(t, st, testUser, testPass) // argon2id with the default 19 MiB
	hc := &hashCounter{Store: st}
	lim := authlimit.New(authlimit.Config{})
	svc := login.New(hc, lim, login.Config{QueueWait: time.Second})
	e := newEnv(t, func(o *imapserver.Options) { o.Login = svc; o.Limiter = lim })
	const hashMiB = 19
	limit := uint64(svc.Capacity())*2*hashMiB<<20 + 96<<20

	for _, c := range []struct {
		name string
		from func(int) netip.Addr
	}{
		{"one address", func(int) netip.Addr { return netip.MustParseAddr("127.0.0.1") }},
		{"200 addresses", func(i int) netip.Addr { return netip.AddrFrom4([4]byte{127, 0, 1, byte(i + 1)}) }},
	} {
		hc.calls.Store(0)
		hc.peak.Store(0)
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		stop := heapPeak()
		start := time.Now()
		got := loginBurst(t, e.addr, 200, c.from)
		took := time.Since(start)
		peak := stop()
		grown := peak - min(peak, base.HeapAlloc)
		t.Logf("%s: %v in %v; %d hashed, at most %d at once (capacity %d); heap %d MiB before, peak %d MiB (+%d MiB; limit +%d MiB)",
			c.name, got, took.Round(time.Millisecond), hc.calls.Load(), hc.peak.Load(), svc.Capacity(),
			base.HeapAlloc>>20, peak>>20, grown>>20, limit>>20)
		if p := int(hc.peak.Load()); p > svc.Capacity() {
			t.Errorf("%s: %d password checks at once, capacity %d", c.name, p, svc.Capacity())
		}
		if grown > limit {
			t.Errorf("%s: heap grew by %d MiB during the wave, limit %d MiB", c.name, grown>>20, limit>>20)
		}
		if got["NO [AUTHENTICATIONFAILED]"]+got["NO [UNAVAILABLE]"]+got["BYE at connect"] != 200 {
			t.Errorf("%s: answers %v", c.name, got)
		}
		if c.name == "one address" {
			if n := hc.calls.Load(); n > 6 {
				t.Errorf("one address: %d of 200 attempts hashed, want at most PerMinute+1 = 6", n)
			}
		}
	}
}

// TestGoodLoginKeepsOthersFailures (issue 13 finding 5): from one address,
// guess bob's password, log in correctly as alice in between, keep guessing:
// the address is blocked after as many guesses as without alice's logins.
// On the old code alice's success erased the address's failures and the
// guessing never stopped.
func TestGoodLoginKeepsOthersFailures(t *testing.T) {
	t.Parallel()
	lim := authlimit.New(authlimit.Config{PerMinute: 5, MaxDelay: time.Millisecond})
	e := newEnv(t, func(o *imapserver.Options) { o.Limiter = lim })
	storetest.NewAccount(t, e.st, "bob@example.org", "bob's secret")
	guesses := 0
	for i := range 30 {
		w := e.dial()
		done, _ := w.status(fmt.Sprintf(`a LOGIN bob@example.org "guess %d"`, i))
		if strings.HasPrefix(done, "a NO [UNAVAILABLE]") {
			break
		}
		if !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("guess %d: %q", i, done)
		}
		guesses++
		w = e.dial()
		if done, _ := w.status(`b LOGIN ` + testUser + ` "` + testPass + `"`); !strings.HasPrefix(done, "b OK") && !strings.HasPrefix(done, "b NO [UNAVAILABLE]") {
			t.Fatalf("alice after guess %d: %q", i, done)
		}
	}
	if guesses != 6 {
		t.Errorf("%d guesses at bob before the block, want 6 (PerMinute+1) as without alice's logins", guesses)
	}
}

// lockedBuffer is a log sink for a server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFailedLoginNameNotLogged (issue 13 finding 9): the user name of a
// failed login (often a password typed into the wrong field) is not logged,
// by LOGIN, AUTHENTICATE PLAIN or SCRAM, nor when blocked; a hash is.
func TestFailedLoginNameNotLogged(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	lim := authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond})
	e := newEnv(t, func(o *imapserver.Options) {
		o.Limiter = lim
		o.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	const typed = "Tr0ub4dor-typed-as-name"
	w := e.dial()
	if done, _ := w.status(`a LOGIN ` + typed + ` wrong`); !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("LOGIN: %q", done)
	}
	if done, _ := w.status("b AUTHENTICATE PLAIN " + plainIR(typed, "wrong")); !strings.HasPrefix(done, "b NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("PLAIN: %q", done)
	}
	if done := scramAuth(t, w, "c", typed, "wrong", true); !strings.HasPrefix(done, "c NO [AUTHENTICATIONFAILED]") {
		t.Fatalf("SCRAM: %q", done)
	}
	if done, _ := w.status(`d LOGIN ` + typed + ` wrong`); !strings.HasPrefix(done, "d NO [UNAVAILABLE]") {
		t.Fatalf("blocked LOGIN: %q", done)
	}
	out := logs.String()
	if strings.Contains(strings.ToLower(out), strings.ToLower(typed)) {
		t.Errorf("a failed login's user name is in the log:\n%s", out)
	}
	if strings.Count(out, "user_hash=") < 4 {
		t.Errorf("failed logins not logged with a hash:\n%s", out)
	}
}
