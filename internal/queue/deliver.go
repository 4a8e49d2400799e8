package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"time"

	"gannet/internal/smtpclient"
	"gannet/internal/store"
)

// job is the due work of one route.
type job struct {
	route route
	rcpts []store.QueuedRecipient
}

// session is a job's open connection.
type session struct {
	c    *smtpclient.Client
	host string
	sent int
}

// maxPerSession bounds the transactions on one connection, so that a long
// queue for one host is spread over fresh sessions now and then.
const maxPerSession = 100

// outcome is the fate of one recipient in one attempt.
type outcome struct {
	reply     smtpclient.Reply
	mta       string // the host that gave reply, "" for local verdicts
	dsnPassed bool   // the next hop took our DSN parameters (RFC 3461 5.2.2)
}

func uniform(n int, o outcome) []outcome {
	out := make([]outcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// run delivers a job's messages in ID order over as few connections as it
// can. It reports whether it settled anything: a job that could not even read
// the store must not make the loop spin.
func (q *Queue) run(ctx context.Context, j *job) (progress bool) {
	byMsg := map[int64][]store.QueuedRecipient{}
	var ids []int64
	for _, r := range j.rcpts {
		if _, ok := byMsg[r.MessageID]; !ok {
			ids = append(ids, r.MessageID)
		}
		byMsg[r.MessageID] = append(byMsg[r.MessageID], r)
	}
	slices.Sort(ids)
	targets, verdict := q.targets(ctx, j.route)
	var sess *session
	defer func() {
		if sess != nil {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			sess.c.Quit(qctx)
			cancel()
		}
	}()
	for _, id := range ids {
		if q.stopping() || ctx.Err() != nil {
			return progress // the rest stays due for the next run
		}
		m, rcpts, ok := q.load(ctx, id, byMsg[id])
		if !ok {
			continue
		}
		progress = true
		if verdict.Code != 0 {
			q.settle(ctx, m, nil, rcpts, uniform(len(rcpts), outcome{reply: verdict}))
			continue
		}
		q.deliver(ctx, j.route, targets, &sess, m, rcpts)
	}
	return progress
}

// load reads a message's metadata and keeps the recipients still queued (an
// admin may have dropped the message since it was found due).
func (q *Queue) load(ctx context.Context, id int64, due []store.QueuedRecipient) (*store.QueuedMessage, []store.QueuedRecipient, bool) {
	m, err := q.st.QueueMessage(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, false
	}
	if err != nil {
		q.log.Error("queue: read message", "id", id, "err", err)
		return nil, nil, false
	}
	// The due list may be stale (read before this job got a worker): keep
	// only recipients still queued, still due and still leased to us (a lease
	// that lapsed, say while the store was unreachable, may have been taken
	// over by another node), with their current state.
	now := q.now()
	var rcpts []store.QueuedRecipient
	for _, r := range due {
		if i := slices.IndexFunc(m.Recipients, func(x store.QueuedRecipient) bool { return x.Address == r.Address }); i >= 0 &&
			!m.Recipients[i].NextAttempt.After(now) && m.Recipients[i].LeaseOwner == r.LeaseOwner {
			rcpts = append(rcpts, m.Recipients[i])
		}
	}
	return m, rcpts, len(rcpts) > 0
}

// deliver makes one attempt at a message's recipients of this route.
func (q *Queue) deliver(ctx context.Context, rt route, targets []target, sessp **session, m *store.QueuedMessage, rcpts []store.QueuedRecipient) {
	raw, err := q.st.QueueMessageData(ctx, m.ID)
	if err != nil {
		// Retried on the schedule like any temporary failure, and bounced
		// (without the original) at MaxAge if it never becomes readable.
		q.log.Error("queue: read message data", "id", m.ID, "err", err)
		q.settle(ctx, m, nil, rcpts, uniform(len(rcpts), outcome{reply: failure(451, "4.3.0", "cannot read the queued message")}))
		return
	}
	env := smtpclient.Envelope{From: m.From, EnvID: m.EnvID, Ret: m.Ret}
	for _, r := range rcpts {
		env.To = append(env.To, smtpclient.Recipient{Addr: r.Address, Notify: r.Notify, ORcpt: r.ORcpt})
	}
	retried := false
	for {
		s := *sessp
		if s == nil {
			var verdict outcome
			s, verdict = q.connect(ctx, rt, targets)
			if s == nil {
				if ctx.Err() == nil {
					q.settle(ctx, m, raw, rcpts, uniform(len(rcpts), verdict))
				}
				return
			}
			*sessp = s
		}
		res, err := s.c.Send(ctx, env, raw)
		if err != nil {
			s.c.Close()
			*sessp = nil
			if ctx.Err() != nil {
				return // shutting down: the recipients stay due
			}
			if s.sent > 0 && !res.DataSent && !retried {
				// A reused session the server had closed meanwhile (it may drop
				// idle clients, RFC 5321 4.5.3.2.7): nothing was delivered, so
				// try once more on a fresh connection.
				retried = true
				continue
			}
			q.log.Info("session broken", "id", m.ID, "host", s.host, "err", err, "data_sent", res.DataSent)
			q.settle(ctx, m, raw, rcpts, uniform(len(rcpts), outcome{
				reply: failure(451, "4.4.2", "connection to %s lost: %v", s.host, err), mta: s.host}))
			return
		}
		s.sent++
		_, tlsOn := s.c.TLSState()
		outs := make([]outcome, len(rcpts))
		for i := range rcpts {
			o := res.Outcome(i)
			outs[i] = outcome{reply: o, dsnPassed: res.DSN}
			if !o.Local {
				outs[i].mta = s.host
			}
			q.log.Info("delivery attempt", "id", m.ID, "rcpt", rcpts[i].Address, "host", s.host,
				"tls", tlsOn, "reply", o.String())
		}
		q.settle(ctx, m, raw, rcpts, outs)
		if !s.c.Usable() || s.sent >= maxPerSession {
			s.c.Quit(ctx)
			*sessp = nil
		}
		return
	}
}

// connect opens a session with the first target that takes one, trying each
// host's addresses in turn (RFC 5321 5.1: try the next address and the next
// MX host when one fails).
func (q *Queue) connect(ctx context.Context, rt route, targets []target) (*session, outcome) {
	opts := q.clientOptions(rt)
	last := outcome{reply: failure(451, "4.4.1", "no host to try")}
	for _, t := range targets {
		for _, addr := range t.addrs {
			c, err := smtpclient.Dial(ctx, q.dial, addr, t.host, opts)
			var te *smtpclient.TLSError
			if errors.As(err, &te) && opts.Auth == nil && !opts.RequireTLS {
				// Opportunistic TLS (RFC 7435): a failed handshake must not stop
				// the mail; say so and go on in the clear on a new connection.
				q.log.Warn("STARTTLS failed, retrying without TLS", "host", t.host, "addr", addr, "err", err)
				o := opts
				o.TLS = nil
				c, err = smtpclient.Dial(ctx, q.dial, addr, t.host, o)
			}
			if err == nil {
				st, tlsOn := c.TLSState()
				version := "none"
				if tlsOn {
					version = tls.VersionName(st.Version)
				}
				q.log.Info("connected", "route", rt.key, "host", t.host, "addr", addr, "tls", tlsOn, "tls_version", version)
				return &session{c: c, host: t.host}, outcome{}
			}
			q.log.Info("connect failed", "route", rt.key, "host", t.host, "addr", addr, "err", err)
			last = connFailure(t.host, err)
			if ctx.Err() != nil {
				return nil, last
			}
		}
	}
	return nil, last
}

// connFailure is the verdict when no session could be opened. A 5xx greeting
// is the host's own permanent refusal (RFC 5321 3.1, 4.2.5) and bounces when
// it came from the last host tried; every other setup failure (no route,
// timeout, EHLO or AUTH refused, TLS demanded but missing) is retried, since it
// is usually a passing or configuration problem on one side.
func connFailure(host string, err error) outcome {
	var re *smtpclient.ReplyError
	if errors.As(err, &re) {
		if re.Command == "connect" && re.Reply.Permanent() {
			return outcome{reply: re.Reply, mta: host}
		}
		return outcome{reply: failure(451, "4.4.0", "%s refused %s: %s", host, re.Command, re.Reply), mta: host}
	}
	return outcome{reply: failure(451, "4.4.1", "cannot connect to %s: %v", host, err)}
}
