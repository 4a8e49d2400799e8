package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// readStmts runs read queries through prepared statements kept per query text:
// re-parsing the same SQL on every IMAP command was a tenth of the server's CPU.
// database/sql prepares each statement lazily on each pooled connection. Queries
// built from UID sets vary; once the cache is full the rest run unprepared.
type readStmts struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

const maxReadStmts = 512

func newReadStmts(db *sql.DB) *readStmts { return &readStmts{db: db, m: map[string]*sql.Stmt{}} }

func (r *readStmts) stmt(ctx context.Context, q string) *sql.Stmt {
	r.mu.RLock()
	st, ok := r.m[q]
	n := len(r.m)
	r.mu.RUnlock()
	if ok || n >= maxReadStmts {
		return st
	}
	st, err := r.db.PrepareContext(ctx, q)
	if err != nil {
		return nil // run it unprepared; the error surfaces there
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.m[q]; ok {
		st.Close()
		return old
	}
	r.m[q] = st
	return st
}

// QueryContext implements querier.
func (r *readStmts) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.db.QueryContext(ctx, q, args...)
}

// QueryRowContext implements querier.
func (r *readStmts) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := r.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.db.QueryRowContext(ctx, q, args...)
}

// ExecContext implements querier (the read pool is query_only: reads only).
func (r *readStmts) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return r.db.ExecContext(ctx, q, args...)
}

func (r *readStmts) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.m {
		st.Close()
	}
	r.m = map[string]*sql.Stmt{}
}

// txQuery runs a query inside a read transaction through the statement cache.
func (r *readStmts) txQuery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := r.stmt(ctx, q); st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// txQueryRow runs a one-row query inside a read transaction through the cache.
func (r *readStmts) txQueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := r.stmt(ctx, q); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}
