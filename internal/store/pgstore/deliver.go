package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
)

// newMessage is one message row to insert.
type newMessage struct {
	bodyID int64
	size   int64
	flags  store.FlagSet
	date   int64
}

// messageArrays are the columns of new message rows, for unnest.
type messageArrays struct {
	flags, dates, sizes, bodies []int64
	keywords                    []string
}

func (a *messageArrays) add(m newMessage) {
	a.flags = append(a.flags, m.flags.Bits)
	a.keywords = append(a.keywords, m.flags.KeywordString())
	a.dates = append(a.dates, m.date)
	a.sizes = append(a.sizes, m.size)
	a.bodies = append(a.bodies, m.bodyID)
}

// inserted is what insertMessages' statement returns.
type inserted struct {
	first, uidValidity, modseq int64
	ok                         bool  // a row came back
	bytes                      int64 // the messages' total size
}

// queueInsertMessages queues the one statement that adds messages to one
// mailbox with consecutive new UIDs and one new MODSEQ, keeping the mailbox
// counters and the account's usage in step, whatever the number of
// messages. The account's UPDATE comes first and takes its row lock. With
// quota, the UPDATE matches only if the account stays within its limits
// (RFC 9208), re-checked on the latest committed row, so the limit holds
// under concurrency; it matches only if the account owns the mailbox, too.
// Without a match nothing changes and no row comes back (finishInsert tells
// why). A message whose bodyID is 0 takes the body
// of blob (queued before it in the same batch: its id is not known yet).
func queueInsertMessages(q *pgx.Batch, accountID, mailboxID int64, msgs []newMessage, quota bool, blob string, out *inserted) {
	var total, unseen, deleted int64
	var cols messageArrays
	for _, m := range msgs {
		total += m.size
		unseen += store.Unseen(m.flags.Bits)
		deleted += store.Deleted(m.flags.Bits)
		cols.add(m)
	}
	out.bytes = total
	limit := ""
	if quota {
		limit = ` AND (quota_bytes = 0 OR used_bytes + $4 <= quota_bytes) AND (quota_messages = 0 OR used_messages + $1 <= quota_messages)`
	}
	q.Queue(`WITH acc AS (
			UPDATE accounts SET modseq = modseq + 1, used_bytes = used_bytes + $4, used_messages = used_messages + $1
			WHERE id = $6`+limit+`
				AND EXISTS (SELECT 1 FROM mailboxes WHERE id = $5 AND account_id = $6)
			RETURNING modseq),
		mb AS (UPDATE mailboxes SET uidnext = uidnext + $1, messages = messages + $1,
				unseen = unseen + $2, deleted = deleted + $3, size = size + $4, highest_modseq = acc.modseq
			FROM acc WHERE id = $5 AND account_id = $6
			RETURNING id, uidnext - $1 AS first, uidvalidity, acc.modseq),
		ins AS (INSERT INTO messages(mailbox_id, uid, account_id, modseq, flags, keywords, internal_date, size, body_id)
			SELECT mb.id, mb.first + u.i - 1, $6, mb.modseq, u.flags, u.kw, u.date, u.size,
				COALESCE(NULLIF(u.body, 0), (SELECT id FROM bodies WHERE blob = $12))
			FROM mb, unnest($7::BIGINT[], $8::TEXT[], $9::BIGINT[], $10::BIGINT[], $11::BIGINT[])
				WITH ORDINALITY AS u(flags, kw, date, size, body, i))
		SELECT first, uidvalidity, modseq FROM mb`,
		len(msgs), unseen, deleted, total, mailboxID, accountID,
		cols.flags, cols.keywords, cols.dates, cols.sizes, cols.bodies, blob).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&out.first, &out.uidValidity, &out.modseq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
		out.ok = true
		return nil
	})
}

// finishInsert turns the statement's result into UIDs and publishes them. A
// statement that matched nothing is explained in sqlstore's order: no such
// account (ErrNotFound), over quota (ErrOverQuota, checked under the
// account's lock), no such mailbox of the account (ErrNotFound).
func finishInsert(ctx context.Context, t *tx, accountID, mailboxID int64, n int, quota bool, r *inserted) (uint32, []uint32, error) {
	if !r.ok {
		var over bool
		err := t.QueryRow(ctx, `SELECT (quota_bytes > 0 AND used_bytes + $2 > quota_bytes)
				OR (quota_messages > 0 AND used_messages + $3 > quota_messages)
			FROM accounts WHERE id = $1 FOR UPDATE`, accountID, r.bytes, n).Scan(&over)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, nil, fmt.Errorf("account %d: %w", accountID, store.ErrNotFound)
		}
		if err != nil {
			return 0, nil, fmt.Errorf("account %d: %w", accountID, err)
		}
		if quota && over {
			return 0, nil, store.ErrOverQuota
		}
		return 0, nil, fmt.Errorf("mailbox %d: %w", mailboxID, store.ErrNotFound)
	}
	if r.first+int64(n) > maxUID {
		return 0, nil, fmt.Errorf("mailbox %d: UIDs exhausted: %w", mailboxID, store.ErrNotPermitted)
	}
	uids := make([]uint32, n)
	for i := range uids {
		uids[i] = uint32(r.first) + uint32(i)
	}
	t.publish(store.Change{AccountID: accountID, MailboxID: mailboxID, ModSeq: uint64(r.modseq), Kind: store.ChangeNew, UIDs: uids})
	return uint32(r.uidValidity), uids, nil
}

// insertMessages adds messages to one mailbox (queueInsertMessages). A move
// passes quota=false: it adds nothing to the account's usage in the end.
func insertMessages(ctx context.Context, t *tx, accountID, mailboxID int64, msgs []newMessage, quota bool) (uidValidity uint32, uids []uint32, err error) {
	if len(msgs) == 0 {
		return 0, nil, nil
	}
	var r inserted
	q := &pgx.Batch{}
	queueInsertMessages(q, accountID, mailboxID, msgs, quota, "", &r)
	if err := t.SendBatch(ctx, q).Close(); err != nil {
		return 0, nil, err
	}
	return finishInsert(ctx, t, accountID, mailboxID, len(msgs), quota, &r)
}

// Append implements store.Store (IMAP APPEND, webmail drafts and Sent
// copies): the body and the message in one round trip.
func (s *Store) Append(ctx context.Context, accountID, mailboxID int64, raw []byte, flags []string, date time.Time) (store.DeliveryResult, error) {
	fs, err := store.ParseFlags(flags)
	if err != nil {
		return store.DeliveryResult{}, err
	}
	if err := s.alive(); err != nil {
		return store.DeliveryResult{}, err
	}
	if date.IsZero() {
		date = s.now()
	}
	b, err := s.prepareBody(ctx, raw)
	if err != nil {
		return store.DeliveryResult{}, err
	}
	var res store.DeliveryResult
	err = s.write(ctx, func(ctx context.Context, t *tx) error {
		var bodyID int64
		var r inserted
		q := &pgx.Batch{}
		s.queueBody(q, b, &bodyID)
		queueInsertMessages(q, accountID, mailboxID, []newMessage{{size: b.Size, flags: fs, date: unix(date)}}, true, b.ID, &r)
		if err := t.SendBatch(ctx, q).Close(); err != nil {
			return err
		}
		uv, uids, err := finishInsert(ctx, t, accountID, mailboxID, 1, true, &r)
		if err != nil {
			return err
		}
		res = store.DeliveryResult{MailboxID: mailboxID, UIDValidity: uv, UID: uids[0]}
		return nil
	})
	if err == nil {
		s.dropUnused(b)
	}
	return res, err
}

// quotaRow is a recipient account's quota and usage, read under its lock.
type quotaRow struct {
	qBytes, qMsgs, uBytes, uMsgs, modseq int64
}

// Deliver implements store.Store: one body, one transaction for every
// recipient, a constant number of statements whatever their number. A
// recipient over quota is refused alone (its result carries ErrOverQuota);
// any other failure rolls back the whole delivery.
//
// After the body (bodies.go: queueBody), the recipients' accounts are
// locked, in ascending id order so that two deliveries cannot deadlock, and
// their quotas checked under those locks.
// Each stored recipient gets its account's next MODSEQ and its mailbox's next
// UID, in recipient order, as sqlstore hands them out.
func (s *Store) Deliver(ctx context.Context, d store.Delivery) ([]store.DeliveryResult, error) {
	if err := s.alive(); err != nil {
		return nil, err
	}
	req, err := s.prepareDelivery(ctx, d)
	if err != nil {
		return nil, err
	}
	res, err := s.combine(ctx, req)
	if err == nil {
		s.dropUnused(req.body)
	}
	return res, err
}

// delivery is one Deliver call, prepared outside any transaction (flags and
// names checked, the body parsed and compressed), and its outcome.
type delivery struct {
	rcpts    []store.Recipient
	names    []string
	flags    []store.FlagSet
	accounts []int64 // the recipients' accounts, ascending, once each
	body     *body
	date     int64

	ctx     context.Context // the caller's: a delivery whose caller gave up before its batch is not stored
	results []store.DeliveryResult
	err     error
	done    chan struct{} // closed when results/err are final
	lead    chan struct{} // closed when this caller is to run the next batch
}

func (s *Store) prepareDelivery(ctx context.Context, d store.Delivery) (*delivery, error) {
	if len(d.Recipients) == 0 {
		return nil, fmt.Errorf("deliver: no recipients: %w", store.ErrInvalidName)
	}
	req := &delivery{
		rcpts: d.Recipients,
		flags: make([]store.FlagSet, len(d.Recipients)),
		names: make([]string, len(d.Recipients)),
		done:  make(chan struct{}),
		lead:  make(chan struct{}),
	}
	for i, r := range d.Recipients {
		fs, err := store.ParseFlags(r.Flags)
		if err != nil {
			return nil, err
		}
		req.flags[i] = fs
		name := r.Mailbox
		if name == "" {
			name = "INBOX"
		}
		if req.names[i], err = store.NormMailbox(name); err != nil {
			return nil, err
		}
		req.accounts = append(req.accounts, r.AccountID)
	}
	slices.Sort(req.accounts)
	req.accounts = slices.Compact(req.accounts)
	date := d.InternalDate
	if date.IsZero() {
		date = s.now()
	}
	req.date = unix(date)
	body, err := s.prepareBody(ctx, d.Raw)
	if err != nil {
		return nil, err
	}
	req.body = body
	return req, nil
}

// Group commit for deliveries. Every write to an account holds the
// account's row lock until its commit (tx.go), so deliveries to one busy
// mailbox (an MX's usual load) would otherwise commit one at a time, each
// waiting for the previous one's WAL flush. Instead, concurrent Deliver
// calls on a node join a queue; one of them (the leader) takes every
// delivery queued so far, up to maxCombine, and stores them all in one
// transaction: one lock round, one commit, one WAL flush; the others wait
// for their results. Then the leader hands the lead to the first delivery
// still queued and returns. This is sqlstore's single writer, without a
// goroutine of its own: a caller whose delivery is in a batch never waits
// for more than that batch and the one before it.
//
// A batch that fails as a whole (a delivery naming a mailbox or account
// that does not exist, say) is run again one delivery per transaction, so
// that each gets its own outcome, as if it had run alone.
type combiner struct {
	mu      sync.Mutex
	pending []*delivery
	running bool
	// batches and delivered count the batches run and the deliveries in
	// them (tests check that batches do combine).
	batches, delivered atomic.Int64
}

// maxCombine bounds the deliveries of one transaction: enough to share a
// flush among every SMTP session of a busy node, few enough that one batch
// holds its locks for milliseconds.
const maxCombine = 64

// combineTimeout bounds a batch's transaction: it runs for several callers,
// so no one caller's context may cancel it.
const combineTimeout = time.Minute

func (s *Store) combine(ctx context.Context, req *delivery) ([]store.DeliveryResult, error) {
	req.ctx = ctx
	c := &s.comb
	c.mu.Lock()
	c.pending = append(c.pending, req)
	lead := !c.running
	if lead {
		c.running = true
	}
	c.mu.Unlock()
	if !lead {
		select {
		case <-req.done:
			return req.results, req.err
		case <-req.lead:
		case <-ctx.Done():
			if s.withdraw(req) {
				return nil, ctx.Err()
			}
			// Too late to withdraw: the delivery is in a batch being
			// stored (wait for it: a caller told "failed" whose message
			// was stored would be sent again), or this caller has just
			// been handed the lead, which it must take.
			select {
			case <-req.done:
				return req.results, req.err
			case <-req.lead:
			}
		}
	}
	// The leader runs one batch: its own delivery is in it (it is the
	// first queued, or was when the lead was handed over).
	c.mu.Lock()
	n := min(len(c.pending), maxCombine)
	batch := c.pending[:n:n]
	c.pending = c.pending[n:]
	c.mu.Unlock()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), combineTimeout)
	c.batches.Add(1)
	c.delivered.Add(int64(len(batch)))
	s.deliverBatch(bctx, batch)
	cancel()
	c.mu.Lock()
	if len(c.pending) > 0 {
		close(c.pending[0].lead)
	} else {
		c.running = false
	}
	c.mu.Unlock()
	<-req.done
	return req.results, req.err
}

// DeliveryStats reports the delivery transactions run on this node and the
// deliveries they held (their ratio is how much group commit shares), for
// /metrics.
func (s *Store) DeliveryStats() (batches, deliveries int64) {
	return s.comb.batches.Load(), s.comb.delivered.Load()
}

// withdraw takes a delivery whose caller gave up out of the queue, unless
// it is already in a batch or has been handed the lead.
func (s *Store) withdraw(req *delivery) bool {
	c := &s.comb
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-req.lead:
		return false
	default:
	}
	for i, d := range c.pending {
		if d == req {
			c.pending = slices.Delete(c.pending, i, i+1)
			return true
		}
	}
	return false
}

// deliverBatch stores a batch in one transaction, or, when that fails, each
// delivery in a transaction of its own; it closes every delivery's done.
func (s *Store) deliverBatch(ctx context.Context, batch []*delivery) {
	live := batch[:0:0]
	for _, d := range batch {
		if err := d.ctx.Err(); err != nil {
			d.err = err
			close(d.done)
			continue
		}
		live = append(live, d)
	}
	batch = live
	if len(batch) == 0 {
		return
	}
	err := s.write(ctx, func(ctx context.Context, t *tx) error { return s.deliverAll(ctx, t, batch) })
	if err != nil && len(batch) > 1 {
		for _, d := range batch {
			d.err = mapErr(s.write(ctx, func(ctx context.Context, t *tx) error { return s.deliverAll(ctx, t, []*delivery{d}) }))
			if d.err != nil {
				d.results = nil
			}
			close(d.done)
		}
		return
	}
	for _, d := range batch {
		d.err = err
		if err != nil {
			d.results = nil
		}
		close(d.done)
	}
}

// deliverAll stores the deliveries of a batch in t, in order: every body and
// every recipient account's lock (ascending ids, all accounts of the batch
// at once) in one round trip, then one statement per delivery.
func (s *Store) deliverAll(ctx context.Context, t *tx, batch []*delivery) error {
	var accounts []int64
	for _, d := range batch {
		accounts = append(accounts, d.accounts...)
	}
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	bodyIDs := make([]int64, len(batch))
	q := &pgx.Batch{}
	for i, d := range batch {
		s.queueBody(q, d.body, &bodyIDs[i])
	}
	quotas := queueLockQuotas(q, accounts)
	if err := t.SendBatch(ctx, q).Close(); err != nil {
		return err
	}
	for _, d := range batch {
		for _, id := range d.accounts {
			if quotas[id] == nil {
				return fmt.Errorf("deliver to account %d: %w", id, store.ErrNotFound)
			}
		}
	}
	for i, d := range batch {
		d.results = make([]store.DeliveryResult, len(d.rcpts))
		if err := s.deliverTx(ctx, t, d.rcpts, d.names, d.flags, quotas, bodyIDs[i], d.body.Size, d.date, d.results); err != nil {
			return err
		}
	}
	return nil
}

// queueLockQuotas queues the statement that locks the accounts (ids
// ascending: the lock order) and reads their quotas, usage and MODSEQ into
// the map it returns, filled when the batch runs. A missing account has no
// entry.
func queueLockQuotas(q *pgx.Batch, ids []int64) map[int64]*quotaRow {
	out := make(map[int64]*quotaRow, len(ids))
	// Rows are locked after the sort, so in id order.
	q.Queue(`SELECT id, quota_bytes, quota_messages, used_bytes, used_messages, modseq
		FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id int64
			var r quotaRow
			if err := rows.Scan(&id, &r.qBytes, &r.qMsgs, &r.uBytes, &r.uMsgs, &r.modseq); err != nil {
				return fmt.Errorf("deliver: lock accounts: %w", err)
			}
			out[id] = &r
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("deliver: lock accounts: %w", err)
		}
		return nil
	})
	return out
}

// mailboxKey names a recipient mailbox.
type mailboxKey struct {
	account int64
	name    string
}

// deliverTx stores one message row per recipient that fits its quota, with
// one statement: the mailboxes' UIDs and counters, the message rows and the
// accounts' usage and MODSEQ.
func (s *Store) deliverTx(ctx context.Context, t *tx, rcpts []store.Recipient, names []string, flags []store.FlagSet,
	quotas map[int64]*quotaRow, bodyID, size, date int64, results []store.DeliveryResult) error {
	// Groups: one per distinct (account, mailbox) of a stored recipient.
	var g struct {
		accounts, n, unseen, deleted, size, modseq []int64
		names                                      []string
	}
	group := map[mailboxKey]int{}
	// Rows: one per stored recipient.
	var r struct {
		group, k, accounts, modseq, flags []int64
		keywords                          []string
	}
	idx := make([]int, len(rcpts)) // recipient -> row, -1 when refused
	changed := map[int64]bool{}
	for i, rc := range rcpts {
		q := quotas[rc.AccountID]
		if (q.qBytes > 0 && q.uBytes+size > q.qBytes) || (q.qMsgs > 0 && q.uMsgs+1 > q.qMsgs) {
			idx[i] = -1
			results[i].Err = store.ErrOverQuota
			continue
		}
		q.uBytes += size
		q.uMsgs++
		q.modseq++
		changed[rc.AccountID] = true
		key := mailboxKey{rc.AccountID, names[i]}
		gi, ok := group[key]
		if !ok {
			gi = len(g.names)
			group[key] = gi
			g.accounts = append(g.accounts, rc.AccountID)
			g.names = append(g.names, names[i])
			g.n = append(g.n, 0)
			g.unseen = append(g.unseen, 0)
			g.deleted = append(g.deleted, 0)
			g.size = append(g.size, 0)
			g.modseq = append(g.modseq, 0)
		}
		idx[i] = len(r.group)
		r.group = append(r.group, int64(gi+1))
		r.k = append(r.k, g.n[gi])
		r.accounts = append(r.accounts, rc.AccountID)
		r.modseq = append(r.modseq, q.modseq)
		r.flags = append(r.flags, flags[i].Bits)
		r.keywords = append(r.keywords, flags[i].KeywordString())
		g.n[gi]++
		g.unseen[gi] += store.Unseen(flags[i].Bits)
		g.deleted[gi] += store.Deleted(flags[i].Bits)
		g.size[gi] += size
		g.modseq[gi] = q.modseq
	}
	var a struct{ ids, modseq, bytes, msgs []int64 }
	for id, q := range quotas {
		if changed[id] {
			a.ids = append(a.ids, id)
			a.modseq = append(a.modseq, q.modseq)
			a.bytes = append(a.bytes, q.uBytes)
			a.msgs = append(a.msgs, q.uMsgs)
		}
	}
	type found struct {
		id, first int64
		uv        uint32
	}
	mbs := make([]*found, len(g.names))
	if len(g.names) > 0 {
		rows, err := t.Query(ctx, `WITH g AS (
				SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[], $7::BIGINT[])
					WITH ORDINALITY AS g(account_id, name, n, unseen, deleted, size, modseq, gi)),
			mb AS (UPDATE mailboxes m SET uidnext = m.uidnext + g.n, messages = m.messages + g.n,
					unseen = m.unseen + g.unseen, deleted = m.deleted + g.deleted, size = m.size + g.size,
					highest_modseq = g.modseq
				FROM g WHERE m.account_id = g.account_id AND m.name = g.name
				RETURNING g.gi, m.id, m.uidnext - g.n AS first, m.uidvalidity),
			ins AS (INSERT INTO messages(mailbox_id, uid, account_id, modseq, flags, keywords, internal_date, size, body_id)
				SELECT mb.id, mb.first + r.k, r.account_id, r.modseq, r.flags, r.kw, $8, $9, $10
				FROM unnest($11::BIGINT[], $12::BIGINT[], $13::BIGINT[], $14::BIGINT[], $15::BIGINT[], $16::TEXT[])
					AS r(gi, k, account_id, modseq, flags, kw)
				JOIN mb ON mb.gi = r.gi),
			acc AS (UPDATE accounts a SET modseq = v.modseq, used_bytes = v.bytes, used_messages = v.msgs
				FROM unnest($17::BIGINT[], $18::BIGINT[], $19::BIGINT[], $20::BIGINT[]) AS v(id, modseq, bytes, msgs)
				WHERE a.id = v.id)
			SELECT gi, id, first, uidvalidity FROM mb`,
			g.accounts, g.names, g.n, g.unseen, g.deleted, g.size, g.modseq,
			date, size, bodyID,
			r.group, r.k, r.accounts, r.modseq, r.flags, r.keywords,
			a.ids, a.modseq, a.bytes, a.msgs)
		if err != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		for rows.Next() {
			var gi int64
			var f found
			var uv int64
			if err := rows.Scan(&gi, &f.id, &f.first, &uv); err != nil {
				rows.Close()
				return fmt.Errorf("deliver: %w", err)
			}
			f.uv = uint32(uv)
			mbs[gi-1] = &f
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("deliver: %w", err)
		}
		for gi, f := range mbs {
			if f == nil {
				return fmt.Errorf("deliver to account %d: mailbox %s: %w", g.accounts[gi], g.names[gi], store.ErrNotFound)
			}
			if f.first+g.n[gi] > maxUID {
				return fmt.Errorf("mailbox %d: UIDs exhausted: %w", f.id, store.ErrNotPermitted)
			}
		}
	}
	for i, rc := range rcpts {
		if idx[i] < 0 {
			// The quota check comes first; name the mailbox all the same.
			if gi, ok := group[mailboxKey{rc.AccountID, names[i]}]; ok {
				results[i].MailboxID = mbs[gi].id
			} else if id, err := mailboxIDTx(ctx, t, rc.AccountID, names[i]); err == nil {
				results[i].MailboxID = id
			}
			continue
		}
		j := idx[i]
		f := mbs[r.group[j]-1]
		uid := uint32(f.first + r.k[j])
		results[i] = store.DeliveryResult{MailboxID: f.id, UIDValidity: f.uv, UID: uid}
		t.publish(store.Change{AccountID: rc.AccountID, MailboxID: f.id, ModSeq: uint64(r.modseq[j]),
			Kind: store.ChangeNew, UIDs: []uint32{uid}})
	}
	return nil
}
