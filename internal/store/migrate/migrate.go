// Package migrate moves a Gannet install from SQLite (sqlstore) to
// PostgreSQL (pgstore) while the old server keeps serving (issue 14,
// section 4; docs/ARCHITECTURE.md, "Several nodes"). Everything keeps its
// id: accounts and mailboxes (sessions, cookies and the POP3 lock name them
// by id), UIDs, UIDVALIDITY, MODSEQs and tombstones, so that IMAP clients
// resynchronise with CONDSTORE/QRESYNC (RFC 7162) as after any other change
// and never from scratch.
//
// A move is passes. Each pass reads one consistent snapshot of the source
// (sqlstore.Snapshot) and makes the target equal to it: the small tables
// whole, and per account the mail changed since the MODSEQ the previous pass
// copied (an account whose MODSEQ has not moved has no new mail, flags or
// expunges). The first pass copies everything; later ones (catch-up) only
// what changed meanwhile, which is why they get short. The last pass runs
// with the source's server stopped, so nothing changes after it.
//
// Progress is kept on the target (pgstore's import tables), so an
// interrupted run resumes where it stopped.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gannet/internal/store/dump"
	"gannet/internal/store/pgstore"
	"gannet/internal/store/sqlstore"
)

// Migrator copies one source into one target.
type Migrator struct {
	src *sqlstore.Store
	dst *pgstore.Store
	// copied is, per account id, the MODSEQ up to which its mail is on
	// the target.
	copied map[int64]int64
	prog   *Progress
}

// Stats count what one pass copied.
type Stats struct {
	Accounts   int // accounts whose mail changed (all of them in the first pass)
	Messages   int // messages copied (new, or with new flags)
	Tombstones int
	Bodies     int   // distinct bodies copied
	Bytes      int64 // their raw size
	Queue      int   // queued messages on the source
	Elapsed    time.Duration
}

// Changes is how many rows of mail the pass copied.
func (s Stats) Changes() int { return s.Messages + s.Tombstones }

// New starts or resumes a move from src to dst. It refuses a target that
// holds accounts unless it is the target of an unfinished move from the
// same source (pgstore.ErrNotEmpty). prog may be nil.
func New(ctx context.Context, src *sqlstore.Store, dst *pgstore.Store, prog *Progress) (*Migrator, error) {
	copied, err := dst.ImportBegin(ctx, src.Source())
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if prog == nil {
		prog = NewProgress(nil)
	}
	return &Migrator{src: src, dst: dst, copied: copied, prog: prog}, nil
}

// Resumed reports whether earlier runs had copied some accounts' mail.
func (m *Migrator) Resumed() bool { return len(m.copied) > 0 }

// bodyBatch bounds the raw bytes of the bodies one ImportMessages call
// carries (memory, and the size of one transaction).
const bodyBatch = 16 << 20

// Pass copies one snapshot of the source: everything in the first pass,
// what changed since the previous one afterwards.
func (m *Migrator) Pass(ctx context.Context, name string) (Stats, error) {
	start := time.Now()
	var st Stats
	snap, err := m.src.Snapshot(ctx)
	if err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	defer snap.Close()
	dir, err := snap.Directory(ctx)
	if err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	if err := m.dst.ImportDirectory(ctx, dir); err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	byAccount := map[int64][]dump.Mailbox{}
	for _, mb := range dir.Mailboxes {
		byAccount[mb.AccountID] = append(byAccount[mb.AccountID], mb)
	}
	// The total the progress line counts towards: exact in a first pass
	// (every message of a changed account), an upper bound in a catch-up.
	var total int64
	var todo []dump.Account
	for _, a := range dir.Accounts {
		if done, ok := m.copied[a.ID]; ok && done == a.ModSeq {
			continue
		}
		todo = append(todo, a)
		for _, mb := range byAccount[a.ID] {
			total += mb.Messages
		}
	}
	m.prog.Start(name, total)
	// Reading the source and writing the target overlap: the target's
	// writes run in order on a goroutine of their own (pipe), the account
	// marks after the account's mail.
	since := make([]int64, len(todo))
	for i, a := range todo {
		since[i] = m.copied[a.ID]
	}
	w := startPipe(ctx)
	err = nil
	for i, a := range todo {
		for _, mb := range byAccount[a.ID] {
			if err = m.copyMailbox(ctx, snap, w, mb.ID, since[i], &st); err != nil {
				break
			}
		}
		if err != nil {
			break
		}
		err = w.do(func() error {
			if err := m.dst.ImportAccountCopied(ctx, a.ID, a.ModSeq); err != nil {
				return err
			}
			m.copied[a.ID] = a.ModSeq
			st.Accounts++
			return nil
		})
		if err != nil {
			break
		}
	}
	if werr := w.wait(); err == nil || errors.Is(err, errPipeFailed) {
		err = werr
	}
	if err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	hidden, err := snap.POPHidden(ctx)
	if err == nil {
		err = m.dst.ImportPOPHidden(ctx, hidden)
	}
	if err == nil {
		err = m.copyQueue(ctx, snap, &st)
	}
	if err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	st.Elapsed = time.Since(start)
	m.prog.Done(st)
	return st, nil
}

// copyMailbox copies a mailbox's messages with MODSEQ above since (bodies
// the target lacks included) and its tombstones above since (deleting the
// messages they stand for on the target).
func (m *Migrator) copyMailbox(ctx context.Context, snap *sqlstore.Snapshot, w *pipe, mailboxID, since int64, st *Stats) error {
	err := snap.Messages(ctx, mailboxID, since, func(page []dump.Message) error {
		return m.copyPage(ctx, snap, w, page, st)
	})
	if err != nil {
		return err
	}
	ts, err := snap.Tombstones(ctx, mailboxID, since)
	if err != nil {
		return err
	}
	return w.do(func() error {
		st.Tombstones += len(ts)
		return m.dst.ImportTombstones(ctx, ts)
	})
}

// copyPage copies a page of messages, the bodies the target lacks in
// batches of at most bodyBatch bytes (a body shared by several messages of
// the page is read once; one the pipe has yet to write may be read again
// for a later page, and the target stores it once).
func (m *Migrator) copyPage(ctx context.Context, snap *sqlstore.Snapshot, w *pipe, page []dump.Message, st *Stats) error {
	seen := map[string]bool{}
	var blobs []string
	for _, msg := range page {
		if !seen[msg.Blob] {
			seen[msg.Blob] = true
			blobs = append(blobs, msg.Blob)
		}
	}
	missing, err := m.dst.ImportMissingBodies(ctx, blobs)
	if err != nil {
		return err
	}
	need := map[string]bool{}
	for _, b := range missing {
		need[b] = true
	}
	var batch []dump.Message
	var bodies []*dump.Body
	var size int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		batch, bodies, size := batch, bodies, size
		return w.do(func() error {
			if err := m.dst.ImportMessages(ctx, batch, bodies); err != nil {
				return err
			}
			st.Messages += len(batch)
			st.Bodies += len(bodies)
			st.Bytes += size
			m.prog.Add(int64(len(batch)), size)
			return nil
		})
	}
	for _, msg := range page {
		if need[msg.Blob] {
			need[msg.Blob] = false
			b, err := snap.Body(ctx, msg.Blob)
			if err != nil {
				return err
			}
			bodies = append(bodies, b)
			size += b.Size
		}
		batch = append(batch, msg)
		if size >= bodyBatch {
			if err := flush(); err != nil {
				return err
			}
			batch, bodies, size = nil, nil, 0
		}
	}
	return flush()
}

// errPipeFailed is what pipe.do returns once a write has failed; wait
// returns the write's own error.
var errPipeFailed = errors.New("a write to the target failed")

// pipe runs the target's writes in order on a goroutine of its own, at
// most pipeDepth behind the reader (which bounds the memory held by
// bodies read and not yet written).
type pipe struct {
	jobs   chan func() error
	failed chan struct{} // closed at the first failed write
	done   chan error
	ctx    context.Context
}

const pipeDepth = 2

func startPipe(ctx context.Context) *pipe {
	w := &pipe{jobs: make(chan func() error, pipeDepth), failed: make(chan struct{}), done: make(chan error, 1), ctx: ctx}
	go func() {
		var err error
		for job := range w.jobs {
			if err != nil {
				continue // drain
			}
			if err = job(); err != nil {
				close(w.failed)
			}
		}
		w.done <- err
	}()
	return w
}

// do queues a write.
func (w *pipe) do(job func() error) error {
	select {
	case w.jobs <- job:
		return nil
	case <-w.failed:
		return errPipeFailed
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// wait waits for the queued writes and returns the first write's error.
func (w *pipe) wait() error {
	close(w.jobs)
	return <-w.done
}

// copyQueue makes the target's outbound queue equal to the snapshot's; a
// queued message's bytes are copied once.
func (m *Migrator) copyQueue(ctx context.Context, snap *sqlstore.Snapshot, st *Stats) error {
	have, err := m.dst.ImportQueueIDs(ctx)
	if err != nil {
		return err
	}
	q, err := snap.Queue(ctx, func(id int64) bool { return have[id] })
	if err != nil {
		return err
	}
	st.Queue = len(q)
	return m.dst.ImportQueue(ctx, q)
}

// CatchUp runs catch-up passes until one copies at most little changes,
// or maxPasses have run.
func (m *Migrator) CatchUp(ctx context.Context, little, maxPasses int) error {
	for i := 1; i <= maxPasses; i++ {
		st, err := m.Pass(ctx, fmt.Sprintf("catch-up %d", i))
		if err != nil {
			return err
		}
		if st.Changes() <= little {
			return nil
		}
	}
	return nil
}

// Finish runs the last pass (the source's server must be stopped: nothing
// may change after it) and ends the move: the target is an ordinary
// database from then on.
func (m *Migrator) Finish(ctx context.Context) (Stats, error) {
	st, err := m.Pass(ctx, "final")
	if err != nil {
		return st, err
	}
	if err := m.dst.ImportFinish(ctx); err != nil {
		return st, fmt.Errorf("migrate: %w", err)
	}
	return st, nil
}

// ErrNotEmpty is returned (wrapped) by New for a target that already holds
// accounts and is not the target of an unfinished move from this source.
var ErrNotEmpty = pgstore.ErrNotEmpty
