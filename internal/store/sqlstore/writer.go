package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gannet/internal/notify"
	"gannet/internal/store"
)

// maxBatch bounds how many operations share one transaction, so that one batch
// never holds the write lock for long.
const maxBatch = 256

// wtx is what a write operation sees: the writer's connection, inside the shared
// transaction, and the changes the operation will publish once it has committed.
type wtx struct {
	w       *writer
	changes []store.Change
	// inSavepoint: the operation is a later one of its batch, in a SAVEPOINT.
	inSavepoint bool
}

func (t *wtx) publish(c store.Change) { t.changes = append(t.changes, c) }

// ExecContext runs a statement in the transaction through the statement cache.
func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.w.stmt(ctx, query)
	if err != nil || st == nil {
		return t.w.conn.ExecContext(ctx, query, args...)
	}
	return st.ExecContext(ctx, args...)
}

// QueryContext runs a query in the transaction through the statement cache.
func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.w.stmt(ctx, query)
	if err != nil || st == nil {
		return t.w.conn.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// QueryRowContext runs a one-row query in the transaction through the statement cache.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.w.stmt(ctx, query)
	if err != nil || st == nil {
		// Unprepared: a failure to prepare then surfaces in the caller's Scan.
		return t.w.conn.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

type writeOp struct {
	fn   func(ctx context.Context, tx *wtx) error
	done chan error
	// alone marks an operation that may change many rows (doAlone): it only
	// ever runs first in its batch, where it needs no savepoint.
	alone bool
}

// writer is the group-commit loop: it takes every operation queued while the
// previous transaction was committing and runs them all in one transaction.
type writer struct {
	db   *sql.DB
	conn *sql.Conn // the one connection all writes use; transactions are explicit
	// stmts caches prepared statements by query text: parsing SQL was a third of
	// the CPU time of a delivery. Only the writer goroutine touches it.
	stmts map[string]*sql.Stmt
	hub   *notify.Hub
	log   *slog.Logger
	ops   chan writeOp
	// syncq carries committed batches to syncLoop (walsync.go), which makes
	// them durable and answers their callers.
	syncq chan syncReq
	wal   *walFile
	ckpt  chan struct{} // syncLoop → checkpointLoop: writes happened
	stop  chan struct{} // closed by close: checkpointLoop stops waiting
	// restart is set by checkpointLoop when the WAL is long; the writer then
	// finishes the checkpoint between batches (finishCheckpoint).
	restart atomic.Bool
	// unsynced counts batches handed to the syncer and not yet durable; the
	// syncer signals synced (capacity 1) each time it has made some durable.
	unsynced atomic.Int32
	synced   chan struct{}
	stats    writerStats
	// held is an alone operation that arrived for an open batch: it starts
	// the next one. Only the writer goroutine touches it.
	held *writeOp
	// ckptEvery and restartFrames are checkpointEvery and walRestartFrames
	// unless a test set others.
	ckptEvery     time.Duration
	restartFrames int

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

// newWriter starts the writer on db (one connection, synchronous=NORMAL, no
// automatic checkpoint), its syncer on the WAL of the database at dbPath, and
// its checkpointer on ckptDB.
func newWriter(ctx context.Context, db, ckptDB *sql.DB, dbPath string, hub *notify.Hub, log *slog.Logger, opts Options) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: writer connection: %w", err)
	}
	// The WAL exists once the connection is in WAL mode and has written (the
	// migrations have); open our descriptor on it for the syncer.
	wal, err := openWAL(dbPath)
	if err != nil {
		conn.Close()
		return nil, err
	}
	w := &writer{
		db: db, conn: conn, stmts: map[string]*sql.Stmt{}, hub: hub, log: log,
		ops: make(chan writeOp, maxBatch), syncq: make(chan syncReq, 64), wal: wal,
		ckpt: make(chan struct{}, 1), stop: make(chan struct{}), synced: make(chan struct{}, 1),
		ckptEvery: checkpointEvery, restartFrames: walRestartFrames,
	}
	if opts.checkpointEvery > 0 {
		w.ckptEvery = opts.checkpointEvery
	}
	if opts.walRestartFrames > 0 {
		w.restartFrames = opts.walRestartFrames
	}
	w.wg.Add(3)
	go w.loop()
	go w.syncLoop()
	go w.checkpointLoop(ckptDB)
	return w, nil
}

// maxStmts bounds the statement cache: queries built from UID sets vary, and
// once the cache is full the rest run unprepared.
const maxStmts = 256

// stmt returns the prepared statement for query, preparing it on first use, or
// nil when the cache is full. Preparing on the writer's own connection works
// inside an open transaction.
func (w *writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := w.stmts[query]; ok {
		return st, nil
	}
	if len(w.stmts) >= maxStmts {
		return nil, nil
	}
	st, err := w.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	w.stmts[query] = st
	return st, nil
}

// do runs fn in a write transaction and returns once that transaction has committed
// (or fn failed and its savepoint was rolled back). ctx only bounds the wait to be
// queued: once queued, the operation runs to completion so that the caller learns
// its true outcome.
func (w *writer) do(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	return w.submit(ctx, writeOp{fn: fn, done: make(chan error, 1)})
}

// aloneRows is how many messages an operation may touch and still run as a
// later operation of a batch.
const aloneRows = 1000

// doAlone is do for an operation that may change many rows (deleting a
// mailbox or an account): it runs first in its batch. A later operation runs
// in a SAVEPOINT whose sub-journal holds, in memory (temp_store=MEMORY), the
// original of every page it changes; for a mailbox of half a million messages
// that was over 100 MB. As the first operation it needs no savepoint, and
// SQLite keeps no such copy.
func (w *writer) doAlone(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	return w.submit(ctx, writeOp{fn: fn, done: make(chan error, 1), alone: true})
}

// errAlone is what an operation returns when, as a later operation of its
// batch, it finds it would change more than aloneRows messages (tx.alone): the
// writer undoes it and runs it again first in the next batch.
var errAlone = errors.New("sqlstore: operation must run first in its batch")

// alone is errAlone when the operation runs in a savepoint and is about to
// change rows messages, more than aloneRows; otherwise nil. Operations whose
// size shows only once they have looked (an EXPUNGE of every \Deleted
// message, a STORE over 1:*) call it then, so that the common small ones still
// share batches.
func (t *wtx) alone(rows int) error {
	if t.inSavepoint && rows > aloneRows {
		return errAlone
	}
	return nil
}

func (w *writer) submit(ctx context.Context, op writeOp) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case w.ops <- op:
	case <-ctx.Done():
		w.mu.RUnlock()
		return ctx.Err()
	}
	w.mu.RUnlock()
	return storageErr(<-op.done)
}

func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ops)
		close(w.stop)
	}
	w.mu.Unlock()
	w.wg.Wait()
	for _, st := range w.stmts {
		st.Close()
	}
	w.conn.Close()
	w.wal.close()
}

func (w *writer) loop() {
	defer w.wg.Done()
	defer close(w.syncq)
	for op := range w.ops {
		w.run(op)
		for w.held != nil {
			h := *w.held
			w.held = nil
			w.run(h)
		}
		if w.restart.Swap(false) {
			w.finishCheckpoint()
		}
	}
}

// run executes one batch in one transaction, starting with first, and hands it
// to the syncer once committed.
//
// The batch stays open while the syncer is still busy with earlier batches:
// operations arriving meanwhile could not be answered before the next fsync
// anyway, so they join this transaction rather than commit on their own. The
// batch commits as soon as the syncer is free and nothing more is queued, so
// under light load an operation commits at once, and under heavy load one
// commit (and one WAL write of the pages they share: the account, the mailbox,
// the index leaves they append to) serves every operation of an fsync period.
//
// BEGIN IMMEDIATE: another process (an admin command) may write too, and a
// deferred transaction that upgrades to a write lock can fail with SQLITE_BUSY
// that no busy timeout resolves.
func (w *writer) run(first writeOp) {
	ctx := context.Background()
	t := &wtx{w: w}
	if _, err := t.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		first.done <- fmt.Errorf("sqlstore: begin: %w", err)
		return
	}
	// The first operation needs no savepoint: the transaction is its savepoint.
	// Under light load most batches hold one operation, and the two statements
	// saved are a tenth of its SQL.
	if err := w.call(ctx, first, t); err != nil {
		w.rollback()
		first.done <- err
		return
	}
	batch := []writeOp{first}
	errs := []error{nil}
	changes := append([]store.Change(nil), t.changes...)
	for len(batch) < maxBatch {
		op, ok := w.next()
		if !ok {
			break
		}
		if op.alone {
			w.held = &op
			break
		}
		batch = append(batch, op)
		errs = append(errs, nil)
		if _, err := t.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			w.abort(batch, fmt.Errorf("sqlstore: savepoint: %w", err))
			return
		}
		t.changes = t.changes[:0]
		t.inSavepoint = true
		err := w.call(ctx, op, t)
		if err != nil {
			errs[len(errs)-1] = err
			if _, rerr := t.ExecContext(ctx, "ROLLBACK TO op"); rerr != nil {
				// The transaction is unusable: fail the whole batch.
				w.abort(batch, fmt.Errorf("sqlstore: rollback to savepoint: %w", rerr))
				return
			}
		} else {
			changes = append(changes, t.changes...)
		}
		if _, err := t.ExecContext(ctx, "RELEASE op"); err != nil {
			w.abort(batch, fmt.Errorf("sqlstore: release savepoint: %w", err))
			return
		}
		if errors.Is(err, errAlone) {
			// Undone above: it starts the next batch, and this one commits.
			batch, errs = batch[:len(batch)-1], errs[:len(errs)-1]
			op.alone = true
			w.held = &op
			w.stats.deferred.Add(1)
			break
		}
	}
	if _, err := t.ExecContext(ctx, "COMMIT"); err != nil {
		w.abort(batch, fmt.Errorf("sqlstore: commit: %w", err))
		return
	}
	w.stats.batches.Add(1)
	w.stats.ops.Add(int64(len(batch)))
	// Publishing and answering wait for the WAL fsync (walsync.go): a subscriber
	// that reacts reads committed data, and a caller learns of durable success.
	w.unsynced.Add(1)
	w.syncq <- syncReq{ops: batch, errs: errs, changes: changes}
}

// next returns the next operation for the open batch: one already queued or,
// while the syncer still has batches to make durable, one that arrives before
// it is done. ok is false when the batch should commit now.
func (w *writer) next() (writeOp, bool) {
	select {
	case op, ok := <-w.ops:
		return op, ok
	default:
	}
	for w.unsynced.Load() > 0 {
		select {
		case op, ok := <-w.ops:
			return op, ok
		case <-w.synced:
			// A token may be stale (sent before an earlier commit): check again.
		}
	}
	return writeOp{}, false
}

// abort rolls the batch's transaction back and fails every operation in it.
func (w *writer) abort(batch []writeOp, err error) {
	w.rollback()
	w.failAll(batch, err)
}

func (w *writer) rollback() {
	// A COMMIT that failed for lack of space (SQLITE_FULL) has already rolled
	// the transaction back: nothing is left to undo, and that is not an error.
	if _, rerr := w.conn.ExecContext(context.Background(), "ROLLBACK"); rerr != nil &&
		!strings.Contains(rerr.Error(), "no transaction is active") {
		w.log.Error("rollback failed", "err", rerr)
	}
}

func (w *writer) failAll(batch []writeOp, err error) {
	w.log.Error("write batch failed", "err", err, "ops", len(batch))
	for _, op := range batch {
		op.done <- err
	}
}

// call runs one operation, turning a panic into an error so that one bad operation
// cannot take down the writer (and with it every delivery).
func (w *writer) call(ctx context.Context, op writeOp, t *wtx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic in write operation", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("sqlstore: internal error in write")
		}
	}()
	return op.fn(ctx, t)
}
