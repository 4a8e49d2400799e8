package app

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
)

// Sharing failed logins between nodes. With several nodes on one store
// (PostgreSQL), a guesser behind the load balancer reaches every node, and
// each node's limiter alone would allow it its own quota of guesses. When
// the store is a store.LoginEventStore, the limiter's Observe hook queues
// every failure and success it records; a loop writes them to the store and
// reads the other nodes' into this node's limiter (authlimit.Apply) every
// loginShareInterval. A burst spread over the nodes is then blocked as on
// one node, give or take what the nodes have not yet heard of each other
// (one interval). SQLite: one process owns the store, nothing to share.

// loginShareInterval is how often the nodes exchange login events: the
// revocation watcher's interval, one indexed read of a small table.
const loginShareInterval = revokeInterval

// maxQueuedLoginEvents bounds what a node keeps while the store does not
// answer; beyond it new events are not shared (each node still counts its
// own).
const maxQueuedLoginEvents = 10000

// loginShare queues this node's events for the store.
type loginShare struct {
	mu      sync.Mutex
	pending []store.LoginEvent
}

// observe is the limiter's Observe hook: it never blocks.
func (s *loginShare) observe(ev authlimit.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) < maxQueuedLoginEvents {
		s.pending = append(s.pending, store.LoginEvent{
			Prefix: ev.Prefix.String(), Accounts: ev.Accounts, Success: ev.Success, At: ev.At,
		})
	}
}

func (s *loginShare) take() []store.LoginEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	return p
}

// shareLogins runs the exchange until ctx ends.
func (a *App) shareLogins(ctx context.Context, st store.LoginEventStore, s *loginShare) {
	cursor, _, err := st.LoginEvents(ctx, -1)
	for err != nil {
		a.Log.Warn("login sharing: cannot read the store; retrying", "err", err)
		if !sleepCtx(ctx, time.Second) {
			return
		}
		cursor, _, err = st.LoginEvents(ctx, -1)
	}
	t := time.NewTicker(loginShareInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := st.AddLoginEvents(ctx, s.take())
		var evs []store.LoginEvent
		if err == nil {
			var next int64
			next, evs, err = st.LoginEvents(ctx, cursor)
			if err == nil {
				cursor = next
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !failing {
				a.Log.Warn("login sharing: cannot reach the store", "err", err)
				failing = true
			}
			continue
		}
		failing = false
		for _, ev := range evs {
			p, err := netip.ParsePrefix(ev.Prefix)
			if err != nil {
				continue
			}
			a.Limiter.Apply(authlimit.Event{Prefix: p, Accounts: ev.Accounts, Success: ev.Success, At: ev.At})
		}
	}
}
