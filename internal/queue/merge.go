package queue

import (
	"context"
	"sync"
	"time"

	"gannet/internal/store"
)

// A message's recipients are grouped by route, and each route is its own job,
// so a message to three domains is attempted by three jobs. Reporting after
// each job would give its sender one DSN per domain. The merger holds the
// reports of a message attempted by several jobs of one dispatch until the
// last of them ends, then sends one DSN per action listing every recipient
// (RFC 3464 2.1: one report may carry many per-recipient fields), as Postfix
// does with its bounce logs.
//
// The queue updates of the reported recipients are held with their reports,
// as settle does: a crash before the DSN repeats the attempt and the DSN
// rather than losing the DSN. Other recipients' updates are not held.
type merger struct {
	mu   sync.Mutex
	msgs map[int64]*heldReports
}

// heldReports is what one message's finished jobs left to report.
type heldReports struct {
	jobs    int // jobs of the message that have not ended
	m       *store.QueuedMessage
	raw     []byte
	now     time.Time
	reports map[string][]reportRcpt // by action
	updates []store.QueueUpdate
}

// expect registers the jobs about to be started: ids lists, for each job, the
// messages it holds. Messages in one job only are reported as before.
func (q *Queue) expect(ids [][]int64) {
	count := map[int64]int{}
	for _, job := range ids {
		for _, id := range job {
			count[id]++
		}
	}
	q.merge.mu.Lock()
	defer q.merge.mu.Unlock()
	for id, n := range count {
		if n < 2 {
			continue
		}
		if h := q.merge.msgs[id]; h != nil {
			h.jobs += n
		} else {
			q.merge.msgs[id] = &heldReports{jobs: n, reports: map[string][]reportRcpt{}}
		}
	}
}

// hold keeps a settled message's reports and their updates when other jobs
// of the message are still to end, and reports whether it did.
func (q *Queue) hold(m *store.QueuedMessage, raw []byte, now time.Time, reports map[string][]reportRcpt, updates []store.QueueUpdate) bool {
	q.merge.mu.Lock()
	defer q.merge.mu.Unlock()
	h := q.merge.msgs[m.ID]
	if h == nil {
		return false
	}
	h.m, h.now = m, now
	if raw != nil {
		h.raw = raw
	}
	for action, rr := range reports {
		h.reports[action] = append(h.reports[action], rr...)
	}
	h.updates = append(h.updates, updates...)
	return true
}

// ended is called once for every job that expect registered, whether it ran
// or not, with the messages it held. The last job of a message sends the
// message's held reports and applies their updates.
func (q *Queue) ended(ctx context.Context, ids []int64) {
	var ready []*heldReports
	q.merge.mu.Lock()
	for _, id := range ids {
		h := q.merge.msgs[id]
		if h == nil {
			continue
		}
		if h.jobs--; h.jobs == 0 {
			delete(q.merge.msgs, id)
			if h.m != nil {
				ready = append(ready, h)
			}
		}
	}
	q.merge.mu.Unlock()
	for _, h := range ready {
		q.send(ctx, h.m, h.raw, h.reports, h.now)
		if len(h.updates) > 0 {
			if err := q.st.QueueUpdate(ctx, h.updates); err != nil {
				q.log.Error("queue: record attempt", "id", h.m.ID, "err", err)
			}
		}
	}
}

// send reports each action's recipients in one DSN, in a fixed order.
func (q *Queue) send(ctx context.Context, m *store.QueuedMessage, raw []byte, reports map[string][]reportRcpt, now time.Time) {
	if raw == nil && len(reports) > 0 {
		var err error
		if raw, err = q.st.QueueMessageData(ctx, m.ID); err != nil {
			q.log.Error("queue: read message for DSN", "id", m.ID, "err", err)
		}
	}
	for _, action := range []string{actionFailed, actionDelayed, actionRelayed} {
		if rr := reports[action]; len(rr) > 0 {
			q.report(ctx, m, raw, action, rr, now)
		}
	}
}

// jobMessages lists the distinct messages of a job's recipients.
func jobMessages(j *job) []int64 {
	seen := map[int64]bool{}
	var ids []int64
	for _, r := range j.rcpts {
		if !seen[r.MessageID] {
			seen[r.MessageID] = true
			ids = append(ids, r.MessageID)
		}
	}
	return ids
}
