package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gannet/internal/config"
	"gannet/internal/store"
	"gannet/internal/store/pgstore"
	"gannet/internal/store/sqlstore"
)

// OpenStore opens the store the key `store` names (config.StoreLocation) and
// makes sure the configured domains exist, with their DKIM keys. The server and
// every admin command open the store here, and only here: this is the one
// place that names a concrete backend (docs/ARCHITECTURE.md, "Layers").
func OpenStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	st, err := openBackend(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	for _, d := range cfg.Domains {
		err := st.AddDomain(ctx, d)
		if err == nil || errors.Is(err, store.ErrExists) {
			err = EnsureDKIMKeys(ctx, st, d, time.Now())
		}
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("domain %s from config: %w", d, err)
		}
	}
	return st, nil
}

// openBackend opens the backend the configuration chooses.
func openBackend(ctx context.Context, cfg *config.Config, log *slog.Logger) (store.Store, error) {
	loc, err := cfg.StoreLocation()
	if err != nil {
		return nil, err
	}
	switch loc.Backend {
	case config.StoreSQLite:
		st, err := sqlstore.Open(ctx, loc.Dir, sqlstore.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		return st, nil
	case config.StorePostgres:
		st, err := pgstore.Open(ctx, loc.URL, pgstore.Options{Logger: log, Node: cfg.Node()})
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("store: unknown backend %q", loc.Backend)
}

// Optional store features. Every backend implements store.Store; these are
// what only some backends have, checked with a type assertion where used.

// freeSpacer is a backend whose messages are on a local disk (SQLite): it
// reports the bytes free there, so that SMTP refuses mail with 452 before the
// disk is full rather than failing the write (smtpserver's space check).
// A database server's disk is not ours to measure.
type freeSpacer interface {
	FreeBytes() (int64, error)
}

// deliveryStatser is a backend that combines concurrent deliveries into
// shared transactions (PostgreSQL): how many transactions for how many
// deliveries, on /metrics.
type deliveryStatser interface {
	DeliveryStats() (batches, deliveries int64)
}

// writerStatser is a backend with a group-commit writer on a write-ahead log
// (SQLite): its counters are exported on /metrics.
type writerStatser interface {
	WriterStats() sqlstore.WriterStats
}

// freeSpaceFunc is st's free-space probe, or nil (no check) when the backend
// has none.
func freeSpaceFunc(st store.Store) func() (int64, error) {
	if fs, ok := st.(freeSpacer); ok {
		return fs.FreeBytes
	}
	return nil
}
