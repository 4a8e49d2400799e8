package imapserver_test

import (
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/imapserver"
	"gannet/internal/netserver"
)

// TestFlood (issue 13, finding 3): 5,000 connections from one address
// (127.0.0.2), held open, while a normal user from 127.0.0.1 connects, logs
// in and selects INBOX within a second. Before the shared limiter every one
// of them was accepted (19,950 in the review) until the descriptors ran out.
func TestFlood(t *testing.T) {
	t.Parallel()
	const flood = 5000
	n := raiseNoFile(t, flood)
	reg := netserver.NewRegistry()
	e := newEnv(t, func(o *imapserver.Options) {
		o.Conns = connlimit.NewLimits(20, 0)
		o.Registry = reg
	})

	var (
		mu      sync.Mutex
		conns   []net.Conn
		dialErr int
	)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	var wg sync.WaitGroup
	next := make(chan struct{})
	go func() {
		defer close(next)
		for range n {
			next <- struct{}{}
		}
	}()
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			d := net.Dialer{Timeout: ioWait, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
			for range next {
				c, err := d.Dial("tcp", e.addr)
				mu.Lock()
				if err != nil {
					dialErr++
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		})
	}
	// A normal session while the flood is under way, and once it is all open.
	time.Sleep(100 * time.Millisecond)
	normalSession(t, e, "during the flood")
	wg.Wait()
	t.Logf("%d flood connections opened in %v (%d dial errors); RSS %s", len(conns), time.Since(start), dialErr, rss())
	normalSession(t, e, "with the flood open")
	if got := reg.Open("imap"); got > 20+2 {
		t.Errorf("server holds %d connections, want at most the 20 of 127.0.0.2 and the normal user's", got)
	}
	t.Logf("after the flood: server holds %d connections, refused %+v; RSS %s", reg.Open("imap"), reg.Stats(), rss())
}

// normalSession is a user from 127.0.0.1: greeting, LOGIN, SELECT within a
// second.
func normalSession(t *testing.T, e *env, when string) {
	t.Helper()
	start := time.Now()
	w := dialFrom(t, e.addr, "127.0.0.1")
	if g := w.line(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("%s: greeting %q", when, g)
	}
	w.cmd("a LOGIN " + testUser + ` "` + testPass + `"`)
	w.cmd("b SELECT INBOX")
	d := time.Since(start)
	w.nc.Close()
	if d > time.Second {
		t.Errorf("%s: normal session took %v, want under a second", when, d)
	}
	t.Logf("%s: normal session served in %v", when, d)
}

// raiseNoFile raises RLIMIT_NOFILE's soft limit to the hard one and returns
// how many flood connections fit (want, or fewer when the hard limit is
// low, which it says loudly).
func raiseNoFile(t *testing.T, want int) int {
	t.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Logf("setrlimit: %v", err)
		}
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	// Other tests run in parallel with their own descriptors: keep 1,000.
	room := int(rl.Cur) - 1000
	if room < 200 {
		t.Skipf("RLIMIT_NOFILE is %d: too low for a flood test", rl.Cur)
	}
	if room < want {
		t.Logf("RLIMIT_NOFILE hard limit %d: flooding with %d connections, not %d", rl.Max, room, want)
		return room
	}
	return want
}

// rss is the process's resident set size (client and server: one process).
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strings.Join(strings.Fields(strings.TrimPrefix(l, "VmRSS:")), " ")
		}
	}
	return "unknown"
}
