// Package queue is Gannet's durable outbound queue: it holds mail for remote
// recipients in the store, delivers it with smtpclient to MX hosts, transports
// or a smarthost, retries temporary failures with backoff, and reports
// permanent failures, expiry and long delays to the sender with RFC 3464 DSNs
// delivered straight into the sender's INBOX.
//
// Invariants:
//   - Enqueue returns only after the message is committed to the store; the
//     queue's memory holds nothing that a restart would need (a crash at any
//     point loses no message: at worst a recipient is tried, or reported, twice).
//   - A recipient leaves the store only after its fate is final: delivered, or
//     failed and its DSN (if any is owed) delivered first.
//   - One job per route at a time (route = destination domain's MX set, a
//     transport host, or the smarthost); a job reuses one connection for all
//     its messages. At most Options.Workers jobs run at once.
//   - Times come from Options.Now only; tests move that clock and call Flush or
//     Kick instead of waiting.
//   - Every node of a cluster runs a queue on the same store; a recipient is
//     attempted only by the node whose store instance leased it
//     (store.QueueStore.QueueDue), and one recipient domain by one node at a
//     time. A node renews its leases every poll interval and releases them at
//     Shutdown; a dead node's leases lapse after leaseIntervals polls and
//     another node takes its recipients over.
//   - Delivery is at least once: a crash between a remote 250 and the store
//     update sends that message again after the restart or takeover (RFC 5321
//     6.1 prefers duplicates to losses).
//
// Wiring (what internal/app does):
//
//	q := queue.New(queue.Options{
//		Store:    a.Store,       // a store.Store implements queue.Store
//		Resolver: dnsx.Net{},    // nil means the same
//		Hostname: cfg.Hostname,
//		Config:   cfg.Queue,     // transports, smarthost, schedule
//		Logger:   log.With("component", "queue"),
//	})
//	q.Start()                    // once the store is open
//	// hand q to delivery (it implements delivery.Queuer) before the SMTP
//	// servers start; at shutdown stop the servers first (no more Enqueue),
//	// then q.Shutdown(ctx), then close the store.
package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"gannet/internal/config"
	"gannet/internal/dnsx"
	"gannet/internal/smtpclient"
	"gannet/internal/store"
)

// Store is what the queue needs of the store: the queue tables, and accounts,
// addresses and delivery for DSNs. Every store.Store implements it.
type Store interface {
	store.QueueStore
	Account(ctx context.Context, address string) (*store.Account, error)
	AccountByID(ctx context.Context, id int64) (*store.Account, error)
	IsLocalDomain(ctx context.Context, name string) (bool, error)
	Resolve(ctx context.Context, address string) (*store.Resolution, error)
	Deliver(ctx context.Context, d store.Delivery) ([]store.DeliveryResult, error)
}

// Options configure a Queue. Store and Hostname are required.
type Options struct {
	Store Store
	// Resolver for MX and address lookups; nil means the system resolver.
	Resolver dnsx.Resolver
	// Hostname is our name in EHLO, in DSNs (Reporting-MTA) and for MX loop
	// detection (RFC 5321 5.1).
	Hostname string
	Config   config.Queue
	// TLS is the STARTTLS configuration for MX hosts and transports. nil means
	// opportunistic TLS without certificate checks: without DANE or MTA-STS an
	// MX certificate cannot be authenticated (RFC 7435), and refusing an
	// unverifiable one would only push the mail to cleartext.
	TLS *tls.Config
	// SmarthostTLS is the STARTTLS configuration for the smarthost, which gets
	// our credentials; nil means verify against the system roots.
	SmarthostTLS *tls.Config
	Logger       *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Dial opens connections; nil means a net.Dialer. Tests redirect port 25.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Workers is how many routes are served at once; default 8.
	Workers int
	// Timeouts of SMTP sessions; zero fields take RFC 5321 4.5.3.2's values.
	Timeouts smtpclient.Timeouts
	// PollInterval is the longest the queue sleeps without looking at the store,
	// so that `gannet queue retry` run by another process, or work another
	// node gave up, takes effect; it paces lease renewal too. Default 30s
	// (config.Queue.PollInterval).
	PollInterval time.Duration
}

// Queue delivers queued mail. Its zero value is not usable; call New.
type Queue struct {
	st       Store
	res      dnsx.Resolver
	hostname string
	cfg      config.Queue
	tls      *tls.Config
	smartTLS *tls.Config
	log      *slog.Logger
	now      func() time.Time
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	timeouts smtpclient.Timeouts
	poll     time.Duration
	lease    time.Duration // poll × leaseIntervals

	ctx    context.Context // jobs' context; cancelled to force a shutdown
	cancel context.CancelFunc
	sem    chan struct{} // one token per running job
	kickC  chan struct{}
	stopC  chan struct{}

	mu        sync.Mutex
	busy      map[string]bool // routes with a running job
	started   bool
	stopped   bool
	loopDone  chan struct{}
	renewDone chan struct{}
	jobs      sync.WaitGroup

	merge merger // DSNs of messages spread over several jobs (merge.go)
}

// New makes a Queue. It does nothing until Start (or Flush).
func New(o Options) *Queue {
	q := &Queue{
		st:        o.Store,
		res:       o.Resolver,
		hostname:  o.Hostname,
		cfg:       o.Config,
		tls:       o.TLS,
		smartTLS:  o.SmarthostTLS,
		log:       o.Logger,
		now:       o.Now,
		dial:      o.Dial,
		timeouts:  o.Timeouts,
		poll:      o.PollInterval,
		kickC:     make(chan struct{}, 1),
		stopC:     make(chan struct{}),
		busy:      map[string]bool{},
		merge:     merger{msgs: map[int64]*heldReports{}},
		loopDone:  make(chan struct{}),
		renewDone: make(chan struct{}),
	}
	if q.res == nil {
		q.res = dnsx.Net{}
	}
	if q.tls == nil {
		q.tls = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	}
	if q.log == nil {
		q.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.dial == nil {
		d := &net.Dialer{}
		q.dial = d.DialContext
	}
	if q.poll <= 0 {
		q.poll = 30 * time.Second
	}
	q.lease = leaseIntervals * q.poll
	workers := o.Workers
	if workers <= 0 {
		workers = 8
	}
	q.sem = make(chan struct{}, workers)
	def := config.Default().Queue
	if len(q.cfg.RetrySchedule) == 0 {
		q.cfg.RetrySchedule = def.RetrySchedule
	}
	if q.cfg.MaxAge.Duration <= 0 {
		q.cfg.MaxAge = def.MaxAge
	}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	return q
}

// Enqueue stores m durably for delivery and wakes the queue. It returns only
// after the store's commit, so a caller may then answer 250 (RFC 5321 6.1:
// the receiver takes responsibility for the message).
func (q *Queue) Enqueue(ctx context.Context, m store.Outbound) error {
	if len(m.Recipients) == 0 {
		return errors.New("queue: enqueue: no recipients")
	}
	id, err := q.st.EnqueueOutbound(ctx, m, q.now())
	if err != nil {
		return fmt.Errorf("queue: enqueue: %w", err)
	}
	q.log.Info("queued", "id", id, "from", m.From, "rcpts", len(m.Recipients), "size", len(m.Raw))
	q.Kick()
	return nil
}

// Kick makes the queue look at the store now rather than at its next timer.
func (q *Queue) Kick() {
	select {
	case q.kickC <- struct{}{}:
	default:
	}
}

// Start runs the queue in the background until Shutdown or Close.
func (q *Queue) Start() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started || q.stopped {
		return
	}
	q.started = true
	go q.loop()
	go q.renew()
}

// leaseIntervals is how many poll intervals a lease lasts. The queue renews
// its leases every interval (renew), so a lease outlives three missed
// renewals (a store failover, a stalled process) before another node may take
// the recipients over while this one might still be sending them; and a dead
// node's mail waits at most this many intervals plus one poll of the node
// taking it over (2m30s at the default 30s), little beside the retry schedule
// and the days RFC 5321 4.5.4.1 allows. A node that stops cleanly releases
// its leases at once (Shutdown).
const leaseIntervals = 4

// renew extends this node's leases every poll interval while the queue runs.
// Dispatch re-reads, and so renews, the recipients it leased, but it can wait
// long for a free worker while every job runs, so renewal has its own timer.
// It stops after the last job (q.ctx ends), not at Shutdown's start: jobs
// finishing their message still hold their leases.
func (q *Queue) renew() {
	defer close(q.renewDone)
	t := time.NewTicker(q.poll)
	defer t.Stop()
	for {
		select {
		case <-q.ctx.Done():
			return
		case <-t.C:
		}
		if _, err := q.st.QueueRenew(q.ctx, q.now(), q.lease); err != nil && q.ctx.Err() == nil {
			q.log.Error("queue: renew leases", "err", err)
		}
	}
}

// Shutdown stops taking new work, lets running jobs finish the message they
// are sending, and waits for them; when ctx ends first it aborts their
// connections and returns ctx's error. Unfinished recipients stay queued, and
// their leases are released so that another node takes them over at once.
func (q *Queue) Shutdown(ctx context.Context) error {
	q.mu.Lock()
	first := !q.stopped
	q.stopped = true
	started := q.started
	q.mu.Unlock()
	if first {
		close(q.stopC)
	}
	if started {
		<-q.loopDone
	}
	done := make(chan struct{})
	go func() {
		q.jobs.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		q.cancel()
		<-done
		err = ctx.Err()
	}
	q.cancel()
	if started {
		<-q.renewDone
	}
	if q.st == nil {
		return err // a queue made only to build DSNs (tests)
	}
	// Even after ctx ended (Close): a lease left behind holds the mail back
	// on every other node until it lapses.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := q.st.QueueRelease(rctx); rerr != nil {
		q.log.Warn("queue: release leases", "err", rerr)
	}
	return err
}

// Close stops the queue at once, aborting running sessions.
func (q *Queue) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := q.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (q *Queue) stopping() bool {
	select {
	case <-q.stopC:
		return true
	default:
		return false
	}
}

// Flush attempts, once, every recipient due now, and returns when those
// attempts are over. Tests use it after moving the clock; it works whether or
// not the queue was started (routes busy in the background are skipped).
func (q *Queue) Flush(ctx context.Context) error {
	var wg sync.WaitGroup
	err := q.dispatch(ctx, &wg)
	wg.Wait()
	return err
}

// abandon reports the jobs of msgs ended without running them.
func (q *Queue) abandon(ctx context.Context, msgs [][]int64) {
	for _, ids := range msgs {
		q.ended(ctx, ids)
	}
}

// loop dispatches due work whenever it is kicked, a job ends, or the earliest
// retry time comes.
func (q *Queue) loop() {
	defer close(q.loopDone)
	for {
		if err := q.dispatch(q.ctx, nil); err != nil && !q.stopping() {
			q.log.Error("queue: dispatch", "err", err)
		}
		wait := q.poll
		next, ok, err := q.st.QueueNextAttempt(q.ctx)
		if err != nil && !q.stopping() {
			q.log.Error("queue: next attempt", "err", err)
		}
		// When work is due already it is waiting for a busy route or a worker;
		// the end of a job kicks us.
		if d := next.Sub(q.now()); ok && d > 0 && d < wait {
			wait = d
		}
		t := time.NewTimer(wait)
		select {
		case <-q.kickC:
		case <-t.C:
		case <-q.stopC:
			t.Stop()
			return
		}
		t.Stop()
	}
}

// dueBatch bounds how many due recipients one dispatch reads.
const dueBatch = 2000

// dispatch starts a job for every route that has due recipients and no
// running job. With wg it waits for a worker when all are busy and adds the
// jobs to wg; without (the background loop) it does the same but only until
// Shutdown.
func (q *Queue) dispatch(ctx context.Context, wg *sync.WaitGroup) error {
	if q.stopping() {
		return nil
	}
	now := q.now()
	due, err := q.st.QueueDue(ctx, now, dueBatch, q.lease)
	if err != nil {
		return fmt.Errorf("queue: read due recipients: %w", err)
	}
	var order []string
	jobs := map[string]*job{}
	for _, r := range due {
		rt := q.route(r.Domain)
		j := jobs[rt.key]
		if j == nil {
			j = &job{route: rt}
			jobs[rt.key] = j
			order = append(order, rt.key)
		}
		j.rcpts = append(j.rcpts, r)
	}
	// Every job registered with expect must be reported ended exactly once,
	// whether it runs, is skipped or is never reached.
	msgs := make([][]int64, len(order))
	for i, key := range order {
		msgs[i] = jobMessages(jobs[key])
	}
	q.expect(msgs)
	for i, key := range order {
		select {
		case q.sem <- struct{}{}:
		case <-ctx.Done():
			q.abandon(ctx, msgs[i:])
			return ctx.Err()
		case <-q.stopC:
			q.abandon(ctx, msgs[i:])
			return nil
		}
		q.mu.Lock()
		if q.stopped {
			// Shutdown may be waiting on q.jobs: adding to it now would race.
			q.mu.Unlock()
			<-q.sem
			q.abandon(ctx, msgs[i:])
			return nil
		}
		if q.busy[key] {
			q.mu.Unlock()
			<-q.sem
			q.ended(ctx, msgs[i])
			continue
		}
		q.busy[key] = true
		q.jobs.Add(1)
		q.mu.Unlock()
		if wg != nil {
			wg.Add(1)
		}
		j, ids := jobs[key], msgs[i]
		go func() {
			progress := false
			defer func() {
				q.ended(q.ctx, ids)
				q.mu.Lock()
				delete(q.busy, key)
				q.mu.Unlock()
				<-q.sem
				q.jobs.Done()
				if wg != nil {
					wg.Done()
				}
				// Work for this route may have come in while it was busy. A
				// job that settled nothing (the store failing) does not kick,
				// so the loop retries at its poll interval instead of spinning.
				if progress {
					q.Kick()
				}
			}()
			progress = q.run(q.ctx, j)
		}()
	}
	return nil
}
