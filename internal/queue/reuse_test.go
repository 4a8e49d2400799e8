package queue_test

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

// oneShotServer takes one message per connection and then hangs up without a
// word, as servers that limit transactions per session or drop idle clients
// do. It returns its address and the number of messages it took.
func oneShotServer(t *testing.T) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				r := bufio.NewReader(c)
				w := func(s string) { c.Write([]byte(s + "\r\n")) }
				w("220 oneshot.test")
				inData := false
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimRight(line, "\r\n"))
					switch {
					case inData && cmd == ".":
						mu.Lock()
						taken++
						mu.Unlock()
						w("250 2.0.0 taken; goodbye")
						return // hang up after one message
					case inData:
					case strings.HasPrefix(cmd, "EHLO"):
						w("250-oneshot.test")
						w("250 PIPELINING")
					case cmd == "DATA":
						inData = true
						w("354 go on")
					case cmd == "QUIT":
						w("221 bye")
						return
					default:
						w("250 ok")
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return taken
	}
}

// TestStaleSessionRetriedOnce: the second message finds the reused
// connection closed; nothing was delivered on it, so it goes at once on a new
// connection instead of waiting for the retry schedule.
func TestStaleSessionRetriedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr, taken := oneShotServer(t)
	cfg := testConfig()
	cfg.Transports["example.net"] = addr
	q := e.newQueue(cfg)
	for _, to := range []string{"a@example.net", "b@example.net", "c@example.net"} {
		e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{to}})
	}
	e.flush(q)
	if n := taken(); n != 3 {
		t.Errorf("server took %d messages, want 3", n)
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("messages deferred instead of retried on a fresh connection: %+v", got)
	}
}
