// Package notify fans store changes out to in-process subscribers (IMAP IDLE and
// NOTIFY, webmail server-sent events).
//
// A Hub is the one place where the store, after a commit, says what changed;
// subscribers are told that something changed and drain it with Next. It is a
// hint channel, not a log: the store stays the source of truth, and a subscriber
// that fell behind is told to resynchronise from it (RFC 7162 CONDSTORE/QRESYNC
// style, by MODSEQ) instead of being fed an unbounded backlog.
//
// Invariants:
//   - Publish never blocks on a subscriber. It takes the Hub's read lock and each
//     matching subscriber's own mutex for the time of a slice append, then makes a
//     non-blocking send on the subscriber's capacity-1 signal channel.
//   - Lock order is Hub.mu before sub.mu. Next takes only sub.mu, so a reader never
//     waits for the registry; Subscribe and Close take Hub.mu exclusively.
//   - Each subscriber sees the changes of its account (all accounts for account 0)
//     in the order they were passed to Publish. The changes of one Publish call
//     that concern a subscriber are appended to its queue atomically, so Next
//     returns all of them or none. Two Publish calls that run concurrently are not
//     ordered with respect to each other; the store publishes after commit, and
//     subscribers order by MODSEQ anyway.
//   - A subscriber's queue holds at most QueueLimit changes. When a publish would
//     exceed it the queue is dropped, further changes are discarded, and the next
//     Next reports overflowed; from then on the queue fills again. Whatever was
//     discarded was committed before Next returned, so a resync started after Next
//     sees it. (A change may therefore be seen twice: once by the resync and once
//     in the queue. Subscribers deduplicate by MODSEQ.)
//   - Changes are copied into queues by value, but Change.UIDs slices are shared
//     by the publisher and every subscriber: neither may modify them afterwards.
//   - C may fire when Next then returns nothing (a wake-up raced with a drain);
//     subscribers must tolerate empty results.
//   - After Close, the subscriber is unregistered, C is closed and Next returns
//     (nil, false). Close is idempotent. Publishing has no effect on it any more.
package notify

import (
	"sync"

	"gannet/internal/store"
)

// QueueLimit is how many changes a subscriber may have pending before its queue
// is dropped and it is told to resynchronise.
const QueueLimit = 4096

// Hub is an in-process change fan-out. The zero value is not usable; call New.
// A Hub is safe for concurrent use.
type Hub struct {
	limit int // per-subscriber queue bound, QueueLimit outside tests

	mu        sync.RWMutex
	byAccount map[int64]map[*sub]struct{} // subscribers of one account
	all       map[*sub]struct{}           // subscribers of every account (accountID 0)
}

// New returns an empty Hub.
func New() *Hub {
	return newHub(QueueLimit)
}

func newHub(limit int) *Hub {
	return &Hub{
		limit:     limit,
		byAccount: make(map[int64]map[*sub]struct{}),
		all:       make(map[*sub]struct{}),
	}
}

// Subscribe registers a subscriber for the changes of accountID, or of every
// account when accountID is 0. The caller must Close it.
func (h *Hub) Subscribe(accountID int64) store.Subscription {
	s := &sub{hub: h, account: accountID, c: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if accountID == 0 {
		h.all[s] = struct{}{}
		return s
	}
	set := h.byAccount[accountID]
	if set == nil {
		set = make(map[*sub]struct{})
		h.byAccount[accountID] = set
	}
	set[s] = struct{}{}
	return s
}

// Publish hands changes to every subscriber of their accounts and to every
// all-accounts subscriber, without blocking. Call it after the changes are
// committed (never before) and never while holding a store lock that a
// subscriber might need.
func (h *Hub) Publish(changes ...store.Change) {
	if len(changes) == 0 {
		return
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		s.push(changes)
	}
	if len(h.byAccount) == 0 {
		return
	}
	// Common case: every change is for one account (a delivery to one
	// recipient, a flag update, a move). Hand the whole slice over in one append.
	first := changes[0].AccountID
	single := true
	for _, c := range changes[1:] {
		if c.AccountID != first {
			single = false
			break
		}
	}
	if single {
		for s := range h.byAccount[first] {
			s.push(changes)
		}
		return
	}
	// Several accounts: group each account's changes, keeping their order.
	groups := make(map[int64][]store.Change)
	for _, c := range changes {
		if _, ok := h.byAccount[c.AccountID]; ok {
			groups[c.AccountID] = append(groups[c.AccountID], c)
		}
	}
	for id, cs := range groups {
		for s := range h.byAccount[id] {
			s.push(cs)
		}
	}
}

// Resync tells every subscriber that changes may have been missed (as if its
// queue had overflowed), so that it resynchronises from the store: what a
// backend calls when its feed from other processes was interrupted.
func (h *Hub) Resync() {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.all {
		s.overflow()
	}
	for _, set := range h.byAccount {
		for s := range set {
			s.overflow()
		}
	}
}

// unsubscribe removes s from the registry. After it returns no Publish holds s.
func (h *Hub) unsubscribe(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.account == 0 {
		delete(h.all, s)
		return
	}
	set := h.byAccount[s.account]
	delete(set, s)
	if len(set) == 0 {
		delete(h.byAccount, s.account)
	}
}

// Subscribers returns how many subscriptions are open (for metrics).
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := len(h.all)
	for _, set := range h.byAccount {
		n += len(set)
	}
	return n
}

// sub is one subscription. Its fields below mu are guarded by mu.
type sub struct {
	hub     *Hub
	account int64
	c       chan struct{} // capacity 1; closed by Close

	mu         sync.Mutex
	queue      []store.Change
	overflowed bool
	closed     bool
}

// push appends cs (the changes of one Publish for this subscriber) and signals.
// Called with hub.mu read-locked, so it never runs after Close closed s.c.
func (s *sub) push(cs []store.Change) {
	s.mu.Lock()
	switch {
	case s.closed, s.overflowed:
		// Closed: nobody listens. Overflowed: the subscriber will resync from
		// the store after its next Next, which covers these changes too.
		s.mu.Unlock()
		return
	case len(s.queue)+len(cs) > s.hub.limit:
		s.queue = nil
		s.overflowed = true
	default:
		s.queue = append(s.queue, cs...)
	}
	s.mu.Unlock()
	select {
	case s.c <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// overflow drops the queue and marks s overflowed, then signals.
func (s *sub) overflow() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.queue, s.overflowed = nil, true
	s.mu.Unlock()
	select {
	case s.c <- struct{}{}:
	default:
	}
}

func (s *sub) C() <-chan struct{} { return s.c }

// Next returns and clears the pending changes, or (nil, true) if the queue
// overflowed since the last call. The returned slice belongs to the caller.
func (s *sub) Next() ([]store.Change, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, o := s.queue, s.overflowed
	s.queue, s.overflowed = nil, false
	return q, o
}

func (s *sub) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.queue, s.overflowed = nil, false
	s.mu.Unlock()
	// Marked closed first so that pushes racing with us are no-ops; once
	// unsubscribe returns no Publish holds s, so closing c cannot race a send.
	s.hub.unsubscribe(s)
	close(s.c)
}
