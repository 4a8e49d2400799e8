package app

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Collecting message bodies. Expunging a message, or deleting its mailbox or
// account, removes its row; its bytes (a blob file, a PostgreSQL body and its
// chunks, or objects in the object store) are shared between copies and are
// removed later by store.Store.GC once nothing references them. The server
// runs GC every bodyGCInterval. On several nodes one collects at a time: the
// others find the store lock "gc" taken and skip the round (collecting twice
// at once would be safe, only wasted work).

// bodyGCInterval is how often the server collects unreferenced bodies.
const bodyGCInterval = time.Hour

// bodyGCLock names the store lock that one collecting node holds.
const bodyGCLock = "gannet:gc"

// gcStats count what GC did on this node, for /metrics.
type gcStats struct {
	runs, removed, failures atomic.Int64
}

// collectBodies runs GC every bodyGCInterval until ctx ends; the first run
// comes after a random part of the interval, so that nodes started together
// do not all try at once.
func (a *App) collectBodies(ctx context.Context) {
	wait := bodyGCInterval/10 + rand.N(bodyGCInterval/2)
	for sleepCtx(ctx, wait) {
		a.collectOnce(ctx)
		wait = bodyGCInterval
	}
}

// collectOnce runs GC once, unless another node is running it, and logs what
// it removed.
func (a *App) collectOnce(ctx context.Context) {
	l, ok, err := a.Store.TryLock(ctx, bodyGCLock)
	if err != nil || !ok {
		return
	}
	defer l.Release()
	start := time.Now()
	n, err := a.Store.GC(ctx)
	a.gc.runs.Add(1)
	a.gc.removed.Add(int64(n))
	if err != nil {
		a.gc.failures.Add(1)
		a.Log.Warn("collecting unreferenced message bodies failed", "removed", n, "err", err)
		return
	}
	a.Log.Info("collected unreferenced message bodies", "removed", n, "took", time.Since(start).Round(time.Millisecond))
}
