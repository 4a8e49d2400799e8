package migrate

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gannet/internal/store/pgstore"
	"gannet/internal/store/s3blob"
	"gannet/internal/store/sqlstore"
)

// RunOptions say what `gannet migrate` moves where.
type RunOptions struct {
	// Dir is the SQLite install's data directory (gannet.db, blobs/).
	Dir string
	// URL is the PostgreSQL target (postgres://...).
	URL string
	// Finish runs the last pass and ends the move: the server on Dir must
	// be stopped. Without it: the first pass (or a resumed one), then
	// catch-up passes while the server keeps serving.
	Finish bool
	// Out receives the progress and the closing instructions.
	Out io.Writer
	// Objects, when set, puts the bodies in that object store (the
	// target's key blobs) instead of in PostgreSQL.
	Objects *s3blob.Client
	// Little is how few changes a catch-up pass may copy for the catch-up
	// to stop (0: 100); MaxPasses bounds the catch-up passes (0: 10).
	Little, MaxPasses int
}

// Run opens both stores and moves the data (see the package comment).
func Run(ctx context.Context, o RunOptions) error {
	// Opening creates a data directory; a mistyped one must not be.
	if _, err := os.Stat(filepath.Join(o.Dir, "gannet.db")); err != nil {
		return fmt.Errorf("migrate: no SQLite install in %s: %w", o.Dir, err)
	}
	src, err := sqlstore.Open(ctx, o.Dir, sqlstore.Options{NoMigrate: true})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := pgstore.Open(ctx, o.URL, pgstore.Options{MaxConns: 4, Import: true, Objects: o.Objects})
	if err != nil {
		return err
	}
	defer dst.Close()
	m, err := New(ctx, src, dst, NewProgress(o.Out))
	if err != nil {
		return err
	}
	if o.Finish {
		if _, err := m.Finish(ctx); err != nil {
			return err
		}
		fmt.Fprintln(o.Out, "done: the data is on PostgreSQL. Set store to the --to URL in the configuration and start the server.")
		return nil
	}
	name := "pass 1"
	if m.Resumed() {
		name = "pass 1 (resumed)"
	}
	if _, err := m.Pass(ctx, name); err != nil {
		return err
	}
	little, maxPasses := o.Little, o.MaxPasses
	if little == 0 {
		little = 100
	}
	if maxPasses == 0 {
		maxPasses = 10
	}
	if err := m.CatchUp(ctx, little, maxPasses); err != nil {
		return err
	}
	fmt.Fprint(o.Out, `copied; the server may keep running. To switch:
  1. stop the server;
  2. run the same command again with --finish (a last catch-up: seconds);
  3. set store = "postgres://..." (the --to URL) in the configuration;
  4. start the server.
Running this command again without --finish catches up again.
`)
	return nil
}
