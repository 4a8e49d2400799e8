// Package delivery decides where a message goes and puts it there: recipients
// are resolved through the store (accounts, aliases, catch-alls, +tags), local
// ones are delivered into the store, remote ones are handed to the outbound
// queue. The SMTP server (MX and submission) and webmail both deliver through it.
//
// Invariants:
//   - All local recipients of one message are delivered by ONE store.Deliver
//     call: one blob, one transaction, one fsync (shared with concurrent
//     deliveries by the store's group commit). An account reached through several
//     recipients (aliases, duplicates) gets one copy.
//   - Deliver returns only after what it reports as done is durable: the store
//     commit for local recipients and Enqueue (which makes the message durable
//     in the queue) for remote ones. The SMTP server answers 250 only then.
//   - Local copies get Return-Path and Received fields (RFC 5321 4.4); the copy
//     handed to the queue gets Received only, since Return-Path belongs to final
//     delivery.
//   - Policy errors are *smtp.Reply values whose text is safe to show a client;
//     the internal reason travels as the reply's Cause.
//   - Every local recipient's active Sieve script runs before the store
//     transaction (sieve.go); a script that fails to compile or run means
//     the implicit keep, never a lost message.
//   - A Deliverer keeps only caches (buffers, compiled scripts) and is safe
//     for concurrent use.
package delivery

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"gannet/internal/smtp"
	"gannet/internal/store"
)

// Queuer takes messages for remote recipients. Enqueue returns only once the
// message is durable in the queue. The queue package implements it.
type Queuer interface {
	Enqueue(ctx context.Context, m store.Outbound) error
}

// Reporter sends delivery status notifications (RFC 3464) that an SMTP reply
// cannot carry: recipients that failed after the message as a whole was
// accepted (only one reply follows DATA, RFC 5321 4.1.1.4), and local
// deliveries whose sender asked for success notices (RFC 3461 NOTIFY=SUCCESS).
// The queue's DSN code is meant to implement it; when nil, such outcomes are
// logged only.
type Reporter interface {
	Report(ctx context.Context, r Report) error
}

// Report is one message's set of outcomes to tell its sender about.
type Report struct {
	ID         string // our message id, as in the Received field
	From       string // envelope sender to notify (never empty: no DSN to <>)
	AccountID  int64  // the sender's account when it is local, else 0
	EnvID      string // RFC 3461 ENVID
	Ret        string // RFC 3461 RET: "FULL", "HDRS" or ""
	Raw        []byte // the message as received (with our Received field)
	Recipients []RecipientStatus
}

// RecipientStatus is one recipient's outcome (RFC 3464 2.3).
type RecipientStatus struct {
	Address string      // the final recipient
	ORcpt   string      // RFC 3461 ORCPT as "type;address", or ""
	Action  string      // "failed" or "delivered"
	Reply   *smtp.Reply // the status; Text is the diagnostic
}

// Options configure a Deliverer.
type Options struct {
	Store store.Store
	// Queue takes remote recipients; nil refuses them (451 at RCPT).
	Queue Queuer
	// Reporter is optional; see Reporter.
	Reporter Reporter
	// Hostname names this server in Received fields and generated Message-IDs.
	Hostname string
	// Node, when set, names the node of a cluster in Received fields, as a
	// comment after the host name: "by HOST (node NAME)" (RFC 5321 4.4
	// allows CFWS there), so a trace shows which node took the message.
	Node string
	// Postmaster is where postmaster@ a local domain goes when that address has
	// no account or alias (RFC 5321 4.5.1); "" means the oldest account.
	Postmaster string
	Logger     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxHops is how many Received fields a message may already carry before
	// it is refused as looping (RFC 5321 6.3); 0 means 100.
	MaxHops int
	// Sign, when set, DKIM-signs submitted messages (RFC 6376) for the domain
	// of their From: address, as the last step of PrepareSubmission.
	Sign func(ctx context.Context, domain string, msg []byte) ([]byte, error)
}

// Deliverer resolves and delivers messages.
type Deliverer struct {
	st         store.Store
	queue      Queuer
	reporter   Reporter
	hostname   string
	node       string
	postmaster string
	log        *slog.Logger
	now        func() time.Time
	maxHops    int
	sign       func(ctx context.Context, domain string, msg []byte) ([]byte, error)
	// rawBufs holds *[]byte for the message with its trace fields, as handed
	// to the store: a fresh one per message was a tenth of the bytes the MX
	// allocated. Store.Deliver keeps nothing of Raw once it returns.
	rawBufs sync.Pool
	// scripts caches compiled Sieve scripts (sieve.go).
	scripts scriptCache
}

// New returns a Deliverer.
func New(o Options) *Deliverer {
	d := &Deliverer{
		st:         o.Store,
		queue:      o.Queue,
		reporter:   o.Reporter,
		hostname:   o.Hostname,
		node:       o.Node,
		postmaster: o.Postmaster,
		log:        o.Logger,
		now:        o.Now,
		maxHops:    o.MaxHops,
		sign:       o.Sign,
	}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.maxHops <= 0 {
		d.maxHops = 100
	}
	if d.hostname == "" {
		d.hostname = "localhost"
	}
	return d
}

// Envelope is one mail transaction (RFC 5321 3.3).
type Envelope struct {
	From       smtp.Address   // the zero Address is the null reverse-path
	Recipients []*Recipient   // from CheckRecipient, in RCPT order
	Account    *store.Account // the authenticated sender; nil when unauthenticated
	UTF8       bool           // MAIL ... SMTPUTF8 was given (RFC 6531)
	EnvID      string         // RFC 3461 ENVID
	Ret        string         // RFC 3461 RET
	// Junk files the message in each local recipient's Junk mailbox rather than
	// INBOX (DMARC p=quarantine, RFC 7489 6.3).
	Junk  bool
	Trace Trace
}

// Trace is what the Received field records about the client.
type Trace struct {
	Helo     string               // the EHLO/HELO argument
	RemoteIP netip.Addr           // the client's address
	TLS      *tls.ConnectionState // nil when the session is not encrypted
	ESMTP    bool                 // EHLO rather than HELO
	// Protocol overrides the "with" keyword (e.g. "HTTP" for webmail); empty
	// derives it from ESMTP, TLS, authentication and UTF8 (RFC 3848, RFC 6531).
	Protocol string
}

// Recipient is an accepted recipient with where it resolves to.
type Recipient struct {
	Address smtp.Address
	Notify  string // RFC 3461 NOTIFY, e.g. "SUCCESS,FAILURE"; "" when not given
	ORcpt   string // RFC 3461 ORCPT as "type;address", decoded; "" when not given
	local   []store.Account
	remote  []string
}

// Local returns the accounts the recipient delivers to.
func (r *Recipient) Local() []store.Account { return r.local }

// Remote returns the remote addresses the recipient is relayed to.
func (r *Recipient) Remote() []string { return r.remote }

// Result is the outcome for one envelope recipient.
type Result struct {
	Recipient *Recipient
	Err       *smtp.Reply // nil: stored (local) or queued (remote)
}

// Outcome is the outcome of one Deliver call.
type Outcome struct {
	ID      string   // message id, as in the Received field
	Results []Result // one per envelope recipient, in order
}

// Accepted reports whether at least one recipient succeeded: then the message
// as a whole is accepted (250) and the failed ones are reported by DSN.
func (o *Outcome) Accepted() bool {
	for _, r := range o.Results {
		if r.Err == nil {
			return true
		}
	}
	return false
}

// Reply is the single reply for a message nobody accepted: the first temporary
// failure if there is one (the client retries them all later), else the first
// permanent one. Nil when the message was accepted.
func (o *Outcome) Reply() *smtp.Reply {
	if o.Accepted() {
		return nil
	}
	var first *smtp.Reply
	for _, r := range o.Results {
		if r.Err.Temporary() {
			return r.Err
		}
		if first == nil {
			first = r.Err
		}
	}
	if first == nil {
		return smtp.LocalError().WithCause(errors.New("no recipients"))
	}
	return first
}

// NewID returns a random message id: 16 characters of base32, lower-case.
func NewID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// target is one destination of a message: a local account or a remote address,
// with the envelope recipients that lead to it.
type target struct {
	rcpts []int
	err   *smtp.Reply
}

// Deliver delivers msg (the DATA as received, CRLF lines) to every recipient of
// env. It returns an error only when nothing was done (a loop, or a failure
// before any delivery); per-recipient outcomes are in the Outcome.
func (d *Deliverer) Deliver(ctx context.Context, env *Envelope, msg []byte) (*Outcome, error) {
	if len(env.Recipients) == 0 {
		return nil, smtp.LocalError().WithCause(errors.New("deliver: no recipients"))
	}
	if n := countReceived(msg); n >= d.maxHops {
		return nil, smtp.LoopDetected().WithCause(errors.New("too many Received fields"))
	}
	now := d.now()
	id := NewID()
	received := d.receivedField(env, id, now)

	// Group destinations: each account once, each remote address once.
	var accounts []int64
	local := map[int64]*target{}
	names := map[int64]string{} // account addresses, for reports
	var remotes []string
	remote := map[string]*target{}
	for i, r := range env.Recipients {
		for _, a := range r.local {
			t := local[a.ID]
			if t == nil {
				t = &target{}
				local[a.ID] = t
				accounts = append(accounts, a.ID)
				names[a.ID] = a.Address
			}
			t.rcpts = append(t.rcpts, i)
		}
		for _, addr := range r.remote {
			t := remote[addr]
			if t == nil {
				t = &target{}
				remote[addr] = t
				remotes = append(remotes, addr)
			}
			t.rcpts = append(t.rcpts, i)
		}
	}

	// Local delivery and enqueueing run concurrently when there are both: both
	// end in an fsync, and with the queue in the same store they can share one
	// group commit. Alone, local delivery runs on this goroutine, whose stack
	// has already grown (a fresh one grew again through parsing and compressing
	// on every message).
	deliverLocal := func() {
		bp := d.getRaw()
		rp := returnPathField(env)
		raw := append((*bp)[:0], rp...)
		raw = append(raw, received...)
		raw = append(raw, msg...)
		d.deliverLocal(ctx, env, raw, len(rp), now, accounts, names, local)
		d.putRaw(bp, raw)
	}
	var outbound store.Outbound
	if len(remotes) == 0 {
		if len(accounts) > 0 {
			deliverLocal()
		}
	} else {
		var wg sync.WaitGroup
		if len(accounts) > 0 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				deliverLocal()
			}()
		}
		raw := make([]byte, 0, len(msg)+len(received))
		raw = append(raw, received...)
		raw = append(raw, msg...)
		outbound = d.outbound(env, raw, remotes, remote)
		d.enqueue(ctx, outbound, remotes, remote)
		wg.Wait()
	}

	out := &Outcome{ID: id, Results: make([]Result, len(env.Recipients))}
	// A recipient succeeds when any of its destinations did (an alias whose
	// one member is over quota still delivered to the others).
	ok := make([]bool, len(env.Recipients))
	firstErr := make([]*smtp.Reply, len(env.Recipients))
	mark := func(t *target) {
		for _, i := range t.rcpts {
			if t.err == nil {
				ok[i] = true
			} else if firstErr[i] == nil {
				firstErr[i] = t.err
			}
		}
	}
	for _, t := range local {
		mark(t)
	}
	for _, t := range remote {
		mark(t)
	}
	for i, r := range env.Recipients {
		out.Results[i] = Result{Recipient: r}
		if !ok[i] {
			out.Results[i].Err = firstErr[i]
			if firstErr[i] == nil {
				out.Results[i].Err = smtp.LocalError().WithCause(errors.New("recipient has no destination"))
			}
		}
	}
	d.report(ctx, env, out, received, msg, accounts, names, local, remotes, remote)
	return out, nil
}

// maxPooledRaw keeps a rare big message's buffer from being held for reuse.
const maxPooledRaw = 1 << 20

func (d *Deliverer) getRaw() *[]byte {
	if bp, ok := d.rawBufs.Get().(*[]byte); ok {
		return bp
	}
	return new([]byte)
}

// putRaw returns a buffer once the store is done with it; raw is what was
// built in it (append may have moved it).
func (d *Deliverer) putRaw(bp *[]byte, raw []byte) {
	if cap(raw) > maxPooledRaw {
		return
	}
	*bp = raw[:0]
	d.rawBufs.Put(bp)
}

// localCopy is one store.Deliver call: the bytes and who gets them;
// owners[i] is the account of rcpts[i].
type localCopy struct {
	raw    []byte
	rcpts  []store.Recipient
	owners []int64
}

// deliverLocal stores raw (Return-Path, the first rpLen bytes, then Received
// and the message) for the local accounts, each through its Sieve script
// (sieve.go): one store.Deliver for everyone, plus one per account whose
// script edited the header.
func (d *Deliverer) deliverLocal(ctx context.Context, env *Envelope, raw []byte, rpLen int, now time.Time,
	accounts []int64, names map[int64]string, local map[int64]*target) {
	main := localCopy{raw: raw}
	copies := []*localCopy{&main}
	plans := map[int64]*sievePlan{}
	for _, id := range accounts {
		base := store.Recipient{AccountID: id}
		if env.Junk {
			// The \Junk mailbox (RFC 6154) however the user named it; a user
			// who deleted theirs gets junk in INBOX rather than a refusal (or a
			// Junk mailbox made again against their wish).
			mb, err := store.FindSpecialMailbox(ctx, d.st, id, store.SpecialJunk)
			switch {
			case err == nil:
				base.Mailbox = mb.Name
			case !errors.Is(err, store.ErrNotFound):
				for _, id := range accounts {
					local[id].err = storeReply(err)
				}
				return
			}
		}
		rcpt := env.Recipients[local[id].rcpts[0]].Address.String()
		p := d.runSieve(ctx, env, raw[rpLen:], base, rcpt, now)
		if p == nil {
			main.rcpts, main.owners = append(main.rcpts, base), append(main.owners, id)
			continue
		}
		plans[id] = p
		c := &main
		if p.edited != nil && len(p.rcpts) > 0 {
			c = &localCopy{raw: append(append(make([]byte, 0, rpLen+len(p.edited)), raw[:rpLen]...), p.edited...)}
			copies = append(copies, c)
		}
		for _, r := range p.rcpts {
			c.rcpts, c.owners = append(c.rcpts, r), append(c.owners, id)
		}
	}
	stored := map[int64]bool{}
	for _, c := range copies {
		if len(c.rcpts) > 0 {
			d.storeCopy(ctx, now, c, local, stored)
		}
	}
	for _, id := range accounts {
		t := local[id]
		p := plans[id]
		if p != nil && p.reject != nil {
			t.err = p.reject
		}
		if stored[id] {
			t.err = nil // one of its copies stored: delivered
		}
		if p != nil {
			d.afterSieve(ctx, p, t.err == nil, names[id], now)
		}
	}
}

// storeCopy delivers one copy and records, per account, a stored copy in
// stored and a failure in its target.
func (d *Deliverer) storeCopy(ctx context.Context, now time.Time, c *localCopy, local map[int64]*target, stored map[int64]bool) {
	res, err := d.st.Deliver(ctx, store.Delivery{Raw: c.raw, InternalDate: now, Recipients: c.rcpts})
	if errors.Is(err, store.ErrNotFound) {
		// A mailbox (Junk, or a script's) deleted since it was looked up:
		// INBOX rather than a refusal.
		for i := range c.rcpts {
			c.rcpts[i].Mailbox = ""
		}
		res, err = d.st.Deliver(ctx, store.Delivery{Raw: c.raw, InternalDate: now, Recipients: c.rcpts})
	}
	if err == nil && len(res) != len(c.rcpts) {
		err = errors.New("store returned a result count that does not match the recipients")
	}
	for i, id := range c.owners {
		t := local[id]
		switch {
		case err != nil:
			t.err = storeReply(err)
		case errors.Is(res[i].Err, store.ErrOverQuota):
			t.err = smtp.MailboxFull().WithCause(res[i].Err)
		case res[i].Err != nil:
			t.err = smtp.LocalError().WithCause(res[i].Err)
		default:
			stored[id] = true
		}
	}
}

func (d *Deliverer) outbound(env *Envelope, raw []byte, remotes []string, remote map[string]*target) store.Outbound {
	m := store.Outbound{
		From:       env.From.String(),
		Recipients: remotes,
		Raw:        raw,
		EnvID:      env.EnvID,
		Ret:        env.Ret,
	}
	if env.Account != nil {
		m.AccountID = env.Account.ID
	}
	for _, addr := range remotes {
		r := env.Recipients[remote[addr].rcpts[0]]
		if r.Notify != "" {
			if m.Notify == nil {
				m.Notify = map[string]string{}
			}
			m.Notify[addr] = r.Notify
		}
		orcpt := r.ORcpt
		if orcpt == "" && (len(r.remote) != 1 || len(r.local) > 0 || r.remote[0] != r.Address.String()) {
			// Expanded from an alias: keep the address the sender used
			// (RFC 3461 4.2), so that a DSN names it.
			orcpt = "rfc822;" + r.Address.String()
		}
		if orcpt != "" {
			if m.ORcpt == nil {
				m.ORcpt = map[string]string{}
			}
			m.ORcpt[addr] = orcpt
		}
	}
	return m
}

func (d *Deliverer) enqueue(ctx context.Context, m store.Outbound, remotes []string, remote map[string]*target) {
	var err error
	if d.queue == nil {
		err = errors.New("no outbound queue configured")
	} else {
		err = d.queue.Enqueue(ctx, m)
	}
	if err == nil {
		return
	}
	for _, addr := range remotes {
		remote[addr].err = storeReply(err)
	}
}

// storeReply is the SMTP reply for a failed store write: 452 4.3.1 when the
// disk was full, else a local error.
func storeReply(err error) *smtp.Reply {
	return smtp.StoreError(err, errors.Is(err, store.ErrStorageFull))
}

// report hands the outcomes no SMTP reply can carry to the Reporter: failures
// of an accepted message, and local successes with NOTIFY=SUCCESS.
func (d *Deliverer) report(ctx context.Context, env *Envelope, out *Outcome, received, msg []byte,
	accounts []int64, names map[int64]string, local map[int64]*target, remotes []string, remote map[string]*target) {
	if !out.Accepted() {
		return // the client hears the failure in the reply
	}
	var sts []RecipientStatus
	// Address is the final recipient (the account, or the remote address an
	// alias led to); ORcpt keeps the address the sender used (RFC 3464 2.3.1).
	add := func(addr string, t *target) {
		r := env.Recipients[t.rcpts[0]]
		orcpt := r.ORcpt
		if orcpt == "" && !strings.EqualFold(addr, r.Address.String()) {
			orcpt = "rfc822;" + r.Address.String()
		}
		switch {
		case t.err != nil && notifies(r.Notify, "FAILURE", true):
			sts = append(sts, RecipientStatus{Address: addr, ORcpt: orcpt, Action: "failed", Reply: t.err})
		case t.err == nil && notifies(r.Notify, "SUCCESS", false):
			// RFC 3461 5.2.2: final delivery with NOTIFY=SUCCESS gets a
			// "delivered" DSN. Remote successes are the queue's to report.
			sts = append(sts, RecipientStatus{Address: addr, ORcpt: orcpt, Action: "delivered",
				Reply: smtp.NewReply(250, smtp.EnhancedCode{2, 0, 0}, "delivered")})
		}
	}
	for _, id := range accounts {
		add(names[id], local[id])
	}
	for _, addr := range remotes {
		if t := remote[addr]; t.err != nil {
			add(addr, t)
		}
	}
	if len(sts) == 0 {
		return
	}
	if env.From.IsNull() {
		// RFC 3461 6.2: never send a DSN about a message with a null sender.
		return
	}
	for _, s := range sts {
		if s.Action == "failed" {
			d.log.Warn("recipient failed after the message was accepted", "id", out.ID,
				"rcpt", s.Address, "reply", s.Reply)
		}
	}
	if d.reporter == nil {
		return
	}
	raw := make([]byte, 0, len(received)+len(msg))
	raw = append(append(raw, received...), msg...)
	rep := Report{ID: out.ID, From: env.From.String(), EnvID: env.EnvID, Ret: env.Ret, Raw: raw, Recipients: sts}
	if env.Account != nil {
		rep.AccountID = env.Account.ID
	}
	if err := d.reporter.Report(ctx, rep); err != nil {
		d.log.Error("delivery status notification failed", "id", out.ID, "err", err)
	}
}

// notifies reports whether NOTIFY asks for the kind (RFC 3461 4.1); def is the
// answer when NOTIFY was not given (failures by default, not successes).
func notifies(notify, kind string, def bool) bool {
	if notify == "" {
		return def
	}
	for _, v := range strings.Split(notify, ",") {
		if strings.EqualFold(strings.TrimSpace(v), kind) {
			return true
		}
	}
	return false
}
