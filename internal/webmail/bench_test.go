package webmail

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"gannet/internal/store/storetest"
)

// BenchmarkListPage100k measures one page of the message list on a
// 100,000-message INBOX through the real HTTP API over a real SQLite store:
// the newest page, and a page deep in the mailbox (by cursor). Filling the
// mailbox takes a while, which is why this is a benchmark and not a test.
func BenchmarkListPage100k(b *testing.B) {
	const n = 100000
	e := newEnv(b)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	// Concurrent appends share transactions (group commit).
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				raw := storetest.Msg{Subject: fmt.Sprintf("Message %d", i), Body: "hello"}.Bytes()
				if _, err := e.st.Append(context.Background(), alice.ID, inbox.ID, raw, nil, testTime()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	c := e.login("alice@example.org")
	for _, bc := range []struct{ name, query string }{{"newest", "limit=50"}, {"deep", "limit=50&before=50000"}} {
		b.Run(bc.name, func(b *testing.B) {
			c.t = b
			for b.Loop() {
				if l := c.list(inbox.ID, bc.query); len(l.Messages) != 50 {
					b.Fatalf("page of %d", len(l.Messages))
				}
			}
		})
	}
}
