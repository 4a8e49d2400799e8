package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"
)

// Message bytes in an S3-compatible object store (Options.Objects, config
// key `blobs`).
//
// A body is compressed into the same chunks as in body_chunks (bodies.go),
// and chunk n is the object "<name>/<n>", where name is random, chosen for
// this upload and kept in bodies.objects. The protocol that keeps every
// committed body's objects present, without locks across the database and
// the object store:
//
//  1. A delivery uploads its chunks under a fresh name before its
//     transaction (in the caller's goroutine, so uploads run in parallel),
//     then upserts the body row naming them. The row is committed only
//     after its objects exist.
//  2. If the content was stored before (the upsert found the row), the row
//     keeps its own name and the upload is unused: it is deleted after the
//     commit (dropUnused). A failed delivery leaves its upload for the sweep.
//  3. GC deletes a body's row, and after its commit the row's objects. No
//     row can name them again: names are never reused. A delivery of the
//     same content racing GC stores a new row with its own fresh upload.
//  4. The sweep (sweepObjects) deletes objects whose name no row holds and
//     that are older than objectGrace: uploads of failed deliveries, and
//     objects GC could not delete (a node dying between its commit and the
//     deletes). An upload younger than the grace may belong to a delivery
//     still running; no delivery runs for an hour (combineTimeout and the
//     transaction timeouts are minutes).
//
// So a node keeps no mail on its disk, and a body costs one PUT to store and
// one GET per chunk read.

// objectGrace is how old an object must be before the sweep may delete it
// when no body names it.
const objectGrace = time.Hour

// sweepEvery is how often GC lists the whole bucket to sweep it: listing
// costs one request per thousand objects.
const sweepEvery = 6 * time.Hour

// uploadParallel bounds the concurrent PUTs of one large body.
const uploadParallel = 4

// objectKey names chunk n of the upload name.
func objectKey(name string, n int) string { return name + "/" + strconv.Itoa(n) }

// objectKeys names the chunks of a body of size bytes stored as name.
func objectKeys(name string, size int64) []string {
	n := int((size + chunkSize - 1) / chunkSize)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = objectKey(name, i)
	}
	return keys
}

// newObjectName is a fresh upload name: 128 random bits, never reused.
func newObjectName() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// upload stores b's chunks as objects under a fresh name and takes them out
// of b, so that the upsert writes no body_chunks rows.
func (s *Store) upload(ctx context.Context, b *body) error {
	name := newObjectName()
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(uploadParallel)
	for i, c := range b.chunks {
		g.Go(func() error { return s.objects.Put(ctx, objectKey(name, i), c) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("store message body: %w", err)
	}
	b.objects = name
	b.chunks, b.ns = nil, nil
	return nil
}

// uploadAll uploads the bodies of a batch (an import's), several at once:
// an object store's latency, not its bandwidth, bounds one PUT at a time.
func (s *Store) uploadAll(ctx context.Context, bodies []*body) error {
	if s.objects == nil {
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4 * uploadParallel)
	for _, b := range bodies {
		if len(b.chunks) > 0 {
			g.Go(func() error { return s.upload(ctx, b) })
		}
	}
	return g.Wait()
}

// dropUnused deletes b's upload when the committed transaction found its
// content already stored (step 2 above). A failure only leaves work for the
// sweep.
func (s *Store) dropUnused(b *body) {
	if b == nil || b.objects == "" || !b.reused {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.objects.Delete(ctx, objectKeys(b.objects, b.Size)); err != nil {
		s.log.Warn("object store: deleting an unused upload failed; the sweep will", "err", err)
	}
}

// getChunk reads chunk n of the body stored as name.
func (s *Store) getChunk(ctx context.Context, name string, n int64) ([]byte, error) {
	if s.objects == nil {
		return nil, fmt.Errorf("message body is in an object store, but none is configured (key blobs)")
	}
	// A compressed chunk is never much larger than the raw one; the bound
	// stops a damaged object from making us read without limit.
	return s.objects.Get(ctx, objectKey(name, int(n)), 2*chunkSize+1024)
}

// deleteObjects deletes the objects of bodies GC removed (step 3 above).
func (s *Store) deleteObjects(ctx context.Context, gone []goneBody) {
	if s.objects == nil || len(gone) == 0 {
		return
	}
	var keys []string
	for _, g := range gone {
		keys = append(keys, objectKeys(g.objects, g.size)...)
	}
	if err := s.objects.Delete(ctx, keys); err != nil {
		s.log.Warn("object store: deleting collected bodies failed; the sweep will", "err", err)
	}
}

// goneBody is a body GC deleted whose chunks are objects.
type goneBody struct {
	objects string
	size    int64
}

// maybeSweep runs the sweep when the last one on this node is sweepEvery
// old. Several nodes may sweep at once: each deletes only what no row
// names, so they agree.
func (s *Store) maybeSweep(ctx context.Context) (int, error) {
	if s.objects == nil {
		return 0, nil
	}
	now := s.now()
	last := s.lastSweep.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < sweepEvery {
		return 0, nil
	}
	if !s.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return 0, nil // another GC call of this node sweeps
	}
	return s.sweepObjects(ctx, now.Add(-s.objectGrace))
}

// sweepBatch is how many upload names one query checks.
const sweepBatch = 1000

// sweepObjects deletes the objects no body names that were last modified
// before cutoff (step 4 above), and reports how many.
func (s *Store) sweepObjects(ctx context.Context, cutoff time.Time) (int, error) {
	type upload struct {
		keys []string
		old  bool // every object of it is older than cutoff
	}
	pending := map[string]*upload{}
	var order []string
	deleted := 0
	flush := func() error {
		if len(order) == 0 {
			return nil
		}
		rows, _ := s.pool.Query(ctx, `SELECT objects FROM bodies WHERE objects = ANY($1)`, order)
		named, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		for _, n := range named {
			delete(pending, n)
		}
		var keys []string
		for _, u := range pending {
			if u.old {
				keys = append(keys, u.keys...)
			}
		}
		if err := s.objects.Delete(ctx, keys); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		deleted += len(keys)
		clear(pending)
		order = order[:0]
		return nil
	}
	err := s.objects.Walk(ctx, func(key string, modified time.Time) error {
		name, _, ok := strings.Cut(key, "/")
		if !ok || len(name) != 32 {
			return nil // not ours: leave it
		}
		u := pending[name]
		if u == nil {
			if len(order) >= sweepBatch {
				if err := flush(); err != nil {
					return err
				}
			}
			u = &upload{old: true}
			pending[name] = u
			order = append(order, name)
		}
		u.keys = append(u.keys, key)
		if !modified.Before(cutoff) {
			u.old = false
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if deleted > 0 {
		s.log.Info("object store: swept unreferenced objects", "objects", deleted)
	}
	return deleted, err
}

// SetObjectGrace changes how old an unreferenced object must be before the
// sweep deletes it, and makes the next GC sweep (tests).
func (s *Store) SetObjectGrace(d time.Duration) {
	s.objectGrace = d
	s.lastSweep.Store(0)
}
