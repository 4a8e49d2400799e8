package queue

import (
	"context"
	"slices"
	"strings"
	"time"

	"gannet/internal/store"
)

// settle records the outcome of an attempt: delivered and permanently failed
// recipients leave the queue, temporarily failed ones are rescheduled or, past
// MaxAge, fail. DSNs owed to the sender are delivered before the store update,
// so that a crash in between repeats a DSN rather than loses it. raw may be nil
// (it is read when a DSN needs it).
func (q *Queue) settle(ctx context.Context, m *store.QueuedMessage, raw []byte, rcpts []store.QueuedRecipient, outs []outcome) {
	now := q.now()
	expiry := m.Created.Add(q.cfg.MaxAge.Duration)
	var updates []store.QueueUpdate
	var failed, delayed, relayed []reportRcpt
	for i, r := range rcpts {
		o := outs[i]
		rep := reportRcpt{rcpt: r, reply: o.reply, mta: o.mta, lastAttempt: now}
		switch {
		case o.reply.Positive():
			updates = append(updates, store.QueueUpdate{MessageID: m.ID, Address: r.Address, Done: true})
			q.log.Info("delivered", "id", m.ID, "rcpt", r.Address, "host", o.mta)
			// RFC 3461 5.2.2 / RFC 3464 2.3.3: a next hop without DSN support
			// cannot report delivery, so we report "relayed" when asked to.
			if wants(r.Notify, "SUCCESS") && !o.dsnPassed {
				relayed = append(relayed, rep)
			}
		case o.reply.Permanent():
			updates = append(updates, store.QueueUpdate{MessageID: m.ID, Address: r.Address, Done: true})
			q.log.Info("bounced", "id", m.ID, "rcpt", r.Address, "host", o.mta, "reply", o.reply.String())
			if wants(r.Notify, "FAILURE") {
				failed = append(failed, rep)
			}
		case !now.Before(expiry):
			// RFC 5321 4.5.4.1: give up after the configured time; X.4.7 is
			// "delivery time expired" (RFC 3463 3.5).
			updates = append(updates, store.QueueUpdate{MessageID: m.ID, Address: r.Address, Done: true})
			q.log.Info("expired", "id", m.ID, "rcpt", r.Address, "reply", o.reply.String())
			if wants(r.Notify, "FAILURE") {
				rep.expired = true
				failed = append(failed, rep)
			}
		default:
			u := store.QueueUpdate{
				MessageID:     m.ID,
				Address:       r.Address,
				Attempts:      r.Attempts + 1,
				LastAttempt:   now,
				LastError:     lastError(o),
				DelayNotified: r.DelayNotified,
			}
			warn := q.cfg.DelayWarning.Duration
			if !u.DelayNotified && warn > 0 && now.Sub(m.Created) >= warn {
				u.DelayNotified = true // decided once, whether or not NOTIFY wants it
				if wants(r.Notify, "DELAY") {
					rep.retryUntil = expiry
					delayed = append(delayed, rep)
				}
			}
			u.NextAttempt = q.nextAttempt(m.Created, now, u.Attempts, u.DelayNotified)
			updates = append(updates, u)
			q.log.Info("deferred", "id", m.ID, "rcpt", r.Address, "attempts", u.Attempts,
				"next", u.NextAttempt, "reply", o.reply.String())
		}
	}
	reports := map[string][]reportRcpt{}
	for action, rr := range map[string][]reportRcpt{actionFailed: failed, actionDelayed: delayed, actionRelayed: relayed} {
		if len(rr) > 0 {
			reports[action] = rr
		}
	}
	if len(reports) > 0 {
		// The reported recipients' updates wait for their DSN (merge.go).
		var held, rest []store.QueueUpdate
		for _, u := range updates {
			if reported(reports, u.Address) {
				held = append(held, u)
			} else {
				rest = append(rest, u)
			}
		}
		if q.hold(m, raw, now, reports, held) {
			updates = rest
		} else {
			q.send(ctx, m, raw, reports, now)
		}
	}
	if len(updates) > 0 {
		if err := q.st.QueueUpdate(ctx, updates); err != nil {
			q.log.Error("queue: record attempt", "id", m.ID, "err", err)
		}
	}
}

// reported reports whether addr is among the recipients of reports.
func reported(reports map[string][]reportRcpt, addr string) bool {
	for _, rr := range reports {
		for _, r := range rr {
			if r.rcpt.Address == addr {
				return true
			}
		}
	}
	return false
}

// nextAttempt is when to try again after the attempts-th failure: the
// schedule's entry for it (the last entry repeats), but no later than the
// expiry (so the final attempt happens right at MaxAge) nor, while no delay
// warning was sent, than the warning time (so it goes out on time).
func (q *Queue) nextAttempt(created, now time.Time, attempts int, delayNotified bool) time.Time {
	s := q.cfg.RetrySchedule
	next := now.Add(s[min(attempts, len(s))-1].Duration)
	if exp := created.Add(q.cfg.MaxAge.Duration); next.After(exp) {
		next = exp
	}
	if warn := q.cfg.DelayWarning.Duration; !delayNotified && warn > 0 {
		if w := created.Add(warn); w.After(now) && next.After(w) {
			next = w
		}
	}
	return next
}

func lastError(o outcome) string {
	if o.mta != "" && !o.reply.Local {
		return o.mta + " said: " + o.reply.String()
	}
	return o.reply.String()
}

// wants reports whether a recipient's NOTIFY (RFC 3461 4.1) asks for a report
// of kind what (SUCCESS, FAILURE, DELAY). Without NOTIFY we report failures
// and delays, which RFC 3461 4.1 allows ("FAILURE" or "FAILURE,DELAY").
func wants(notify, what string) bool {
	n := strings.ToUpper(strings.ReplaceAll(notify, " ", ""))
	if n == "" {
		return what == "FAILURE" || what == "DELAY"
	}
	return slices.Contains(strings.Split(n, ","), what)
}
