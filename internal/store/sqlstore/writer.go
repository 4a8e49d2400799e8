package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"gannet/internal/notify"
	"gannet/internal/store"
)

// maxBatch bounds how many operations share one transaction, so that one batch
// never holds the write lock for long.
const maxBatch = 256

// wtx is what a write operation sees: the shared transaction and the changes it
// will publish once the transaction has committed.
type wtx struct {
	*sql.Tx
	changes []store.Change
}

func (t *wtx) publish(c store.Change) { t.changes = append(t.changes, c) }

type writeOp struct {
	fn   func(ctx context.Context, tx *wtx) error
	done chan error
}

// writer is the group-commit loop: it takes every operation queued while the
// previous transaction was committing and runs them all in one transaction.
type writer struct {
	db  *sql.DB
	hub *notify.Hub
	log *slog.Logger
	ops chan writeOp

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

func newWriter(db *sql.DB, hub *notify.Hub, log *slog.Logger) *writer {
	w := &writer{db: db, hub: hub, log: log, ops: make(chan writeOp, maxBatch)}
	w.wg.Add(1)
	go w.loop()
	return w
}

// do runs fn in a write transaction and returns once that transaction has committed
// (or fn failed and its savepoint was rolled back). ctx only bounds the wait to be
// queued: once queued, the operation runs to completion so that the caller learns
// its true outcome.
func (w *writer) do(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := writeOp{fn: fn, done: make(chan error, 1)}
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
	return <-op.done
}

func (w *writer) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.ops)
	}
	w.mu.Unlock()
	w.wg.Wait()
}

func (w *writer) loop() {
	defer w.wg.Done()
	batch := make([]writeOp, 0, maxBatch)
	for op := range w.ops {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-w.ops:
				if !ok {
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		w.run(batch)
	}
}

// run executes one batch in one transaction, each operation in its own savepoint.
func (w *writer) run(batch []writeOp) {
	ctx := context.Background()
	errs := make([]error, len(batch))
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		for _, op := range batch {
			op.done <- fmt.Errorf("sqlstore: begin: %w", err)
		}
		return
	}
	var changes []store.Change
	for i, op := range batch {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT op"); err != nil {
			errs[i] = fmt.Errorf("sqlstore: savepoint: %w", err)
			continue
		}
		t := &wtx{Tx: tx}
		err := w.call(ctx, op, t)
		if err != nil {
			errs[i] = err
			if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO op"); rerr != nil {
				// The transaction is unusable: fail the whole batch.
				tx.Rollback()
				w.failAll(batch, fmt.Errorf("sqlstore: rollback to savepoint: %w", rerr))
				return
			}
		} else {
			changes = append(changes, t.changes...)
		}
		if _, err := tx.ExecContext(ctx, "RELEASE op"); err != nil {
			tx.Rollback()
			w.failAll(batch, fmt.Errorf("sqlstore: release savepoint: %w", err))
			return
		}
	}
	if err := tx.Commit(); err != nil {
		w.failAll(batch, fmt.Errorf("sqlstore: commit: %w", err))
		return
	}
	// Publish strictly after COMMIT: a subscriber that reacts reads committed data.
	if len(changes) > 0 {
		w.hub.Publish(changes...)
	}
	for i, op := range batch {
		op.done <- errs[i]
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
