package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"gannet/internal/store"
)

// Durability is split from COMMIT so that the writer never waits for the disk.
//
// The writer's connection runs with synchronous=NORMAL: COMMIT appends the
// batch's pages to the WAL with write(2) and returns without fsync. The batch
// is then handed to the syncer, which fsyncs the WAL file through its own
// descriptor (fsync flushes the file, not the descriptor) and only then
// publishes the batch's changes and answers its callers. While the syncer
// waits for the disk, the writer already executes the next batch, and every
// batch committed meanwhile shares the next fsync. So "a write call returns only
// when it is durable" still holds (a 250 after DATA means the bytes are on
// disk), but the fsync is off the serial path: with it on the path, the writer
// spent two thirds of its time waiting for the disk and capped SMTP delivery.
//
// Checkpoints run on a third connection (the writer's automatic checkpoint is
// off), PASSIVE so that they never block the writer; they sync the WAL before
// and the database file after copying, as SQLite always does.
//
// Readers may see a committed batch up to one fsync before it is durable; no
// caller is told that it succeeded, and no change is pushed, before it is.

// syncReq is one committed batch waiting for its fsync.
type syncReq struct {
	ops     []writeOp
	errs    []error
	changes []store.Change
}

// walFile is our own descriptor on the database's WAL file.
type walFile struct {
	path string
	f    *os.File
	ino  uint64
}

func openWAL(dbPath string) (*walFile, error) {
	w := &walFile{path: dbPath + "-wal"}
	if err := w.reopen(); err != nil {
		return nil, err
	}
	return w, nil
}

// reopen (re)opens the WAL file and fsyncs its directory, so that the file's
// name is durable too (SQLite does not sync the directory when it creates it).
func (w *walFile) reopen() error {
	f, err := os.OpenFile(w.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("sqlstore: open WAL: %w", err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return fmt.Errorf("sqlstore: stat WAL: %w", err)
	}
	if d, err := os.Open(filepath.Dir(w.path)); err == nil {
		d.Sync()
		d.Close()
	}
	if w.f != nil {
		w.f.Close()
	}
	w.f, w.ino = f, st.Ino
	return nil
}

// sync makes everything written to the WAL so far durable. SQLite keeps the WAL
// file while any connection is open, but if it was ever replaced (deleted and
// recreated), the descriptor follows the name again before syncing.
func (w *walFile) sync() error {
	var st syscall.Stat_t
	if err := syscall.Stat(w.path, &st); err == nil && st.Ino != w.ino {
		if err := w.reopen(); err != nil {
			return err
		}
	}
	// fdatasync, as SQLite itself uses: it flushes the data and the metadata
	// needed to read it back (the size, when the WAL grew), but not the mtime,
	// which spared a journal commit on most syncs.
	for {
		err := syscall.Fdatasync(int(w.f.Fd()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlstore: fdatasync WAL: %w", err)
		}
		return nil
	}
}

func (w *walFile) close() error {
	if w.f == nil {
		return nil
	}
	return w.f.Close()
}

// syncLoop fsyncs the WAL for every committed batch, sharing one fsync among all
// the batches queued while the previous one ran, then publishes their changes
// in commit order and answers their callers.
func (w *writer) syncLoop() {
	defer w.wg.Done()
	defer close(w.ckpt)
	reqs := make([]syncReq, 0, 16)
	for req := range w.syncq {
		reqs = append(reqs[:0], req)
	drain:
		for {
			select {
			case r, ok := <-w.syncq:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		t0 := time.Now()
		err := w.wal.sync()
		w.stats.syncs.Add(1)
		w.stats.syncNanos.Add(int64(time.Since(t0)))
		// The writer holds its open batch until the syncer is free (writer.go):
		// let it commit now, while these callers are answered.
		w.unsynced.Add(-int32(len(reqs)))
		select {
		case w.synced <- struct{}{}:
		default:
		}
		if err != nil {
			// The batches are committed and visible, but whether they reached the
			// disk is unknown: tell the callers they failed (a client retries; a
			// duplicate is better than a loss) and say so loudly.
			w.log.Error("WAL fsync failed: acknowledged writes may not be durable", "err", err)
		}
		for _, r := range reqs {
			if len(r.changes) > 0 {
				w.hub.Publish(r.changes...)
			}
			for i, op := range r.ops {
				e := r.errs[i]
				if e == nil && err != nil {
					e = err
				}
				op.done <- e
			}
		}
		select {
		case w.ckpt <- struct{}{}:
		default:
		}
	}
}

// checkpointEvery is the pause between PASSIVE checkpoints while writes go on;
// SQLite's default (1,000 pages) is reached every second or so under load.
const checkpointEvery = time.Second

// checkpointLoop runs PASSIVE checkpoints on its own connection when told that
// writes happened, at most once per checkpointEvery, so that the WAL stays small
// and readers do not have to search a long log.
func (w *writer) checkpointLoop(db *sql.DB) {
	defer w.wg.Done()
	defer db.Close()
	var last time.Time
	for range w.ckpt {
		if d := time.Since(last); d < w.ckptEvery {
			select {
			case <-time.After(w.ckptEvery - d):
			case <-w.stop:
				return
			}
		}
		last = time.Now()
		var busy, logFrames, done int
		err := db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done)
		w.stats.checkpoints.Add(1)
		if err != nil {
			w.log.Warn("WAL checkpoint failed", "err", err)
			continue
		}
		if logFrames > w.restartFrames {
			w.restart.Store(true)
		}
	}
}

// walRestartFrames is the WAL length (in frames of one page) past which the
// writer finishes the checkpoint itself, between two batches. SQLite rewrites
// the WAL from its start only when a writer begins after a checkpoint that
// copied every frame; a checkpoint on another connection never gets there while
// writes go on, since frames are appended while it copies. Under a steady load
// the WAL then grew without bound (390 MB after 12,000 messages), every append
// allocated new file blocks, and the WAL index readers search grew with it.
const walRestartFrames = 4096

// finishCheckpoint runs on the writer's goroutine between batches when the
// background checkpointer found the WAL long: the background pass has already
// copied almost every frame, so this one copies the few written since (and
// syncs the WAL and the database, as every checkpoint does). No write can come
// in between, so the next transaction starts the WAL over from its beginning.
func (w *writer) finishCheckpoint() {
	var busy, logFrames, done int
	err := w.conn.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done)
	w.stats.checkpoints.Add(1)
	if err != nil {
		w.log.Warn("WAL checkpoint failed", "err", err)
		return
	}
	if busy == 0 && done == logFrames {
		w.stats.restarts.Add(1)
	}
}

// writerStats are counters for the admin listener's metrics.
type writerStats struct {
	batches     atomic.Int64
	ops         atomic.Int64
	syncs       atomic.Int64
	syncNanos   atomic.Int64
	checkpoints atomic.Int64
	restarts    atomic.Int64
	deferred    atomic.Int64
}

// WriterStats is a snapshot of the writer's counters since Open.
type WriterStats struct {
	Batches     int64         // transactions committed
	Ops         int64         // write operations in them
	Syncs       int64         // WAL fsyncs (each covers one or more batches)
	SyncTime    time.Duration // total time spent in those fsyncs
	Checkpoints int64         // checkpoints run
	Restarts    int64         // checkpoints that let the WAL start over
	Deferred    int64         // large operations undone to start the next batch
}

// WriterStats reports the group-commit counters.
func (s *Store) WriterStats() WriterStats {
	st := &s.w.stats
	return WriterStats{
		Batches: st.batches.Load(), Ops: st.ops.Load(), Syncs: st.syncs.Load(),
		SyncTime: time.Duration(st.syncNanos.Load()), Checkpoints: st.checkpoints.Load(),
		Restarts: st.restarts.Load(), Deferred: st.deferred.Load(),
	}
}
