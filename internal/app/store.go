package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"gannet/internal/config"
	"gannet/internal/store"
	"gannet/internal/store/pgstore"
	"gannet/internal/store/s3blob"
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
		objects, err := ObjectStore(cfg)
		if err != nil {
			return nil, err
		}
		st, err := pgstore.Open(ctx, loc.URL, pgstore.Options{Logger: log, Node: cfg.Node(), Objects: objects})
		if err != nil {
			return nil, err
		}
		if objects != nil {
			log.Info("message bodies go to an object store", "blobs", objects.String())
		}
		return st, nil
	}
	return nil, fmt.Errorf("store: unknown backend %q", loc.Backend)
}

// ObjectStore is the client for the object store of the key `blobs`, or nil
// when bodies stay in the database; section [s3] says how to reach it.
func ObjectStore(cfg *config.Config) (*s3blob.Client, error) {
	loc, err := cfg.BlobLocation()
	if err != nil || loc.Bucket == "" {
		return nil, err
	}
	return objectClient(cfg.S3, loc.Bucket, loc.Prefix)
}

// objectClient makes the client for bucket/prefix as s3 says.
func objectClient(s3 config.S3, bucket, prefix string) (*s3blob.Client, error) {
	opts := s3blob.Options{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: bucket, Prefix: prefix,
		AccessKey: s3.AccessKey, PlainHTTP: s3.PlainHTTP}
	if s3.SecretKeyFile != "" {
		b, err := os.ReadFile(s3.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("s3.secret_key_file: %w", err)
		}
		opts.SecretKey = strings.TrimSpace(string(b))
		if opts.SecretKey == "" {
			return nil, fmt.Errorf("s3.secret_key_file: %s is empty", s3.SecretKeyFile)
		}
	}
	return s3blob.New(opts)
}

// ObjectStoreURL is the client for "s3://bucket/prefix" reached as section
// [s3] of cfg says (`gannet migrate --blobs`, whose source configuration is
// a SQLite one and so cannot set the key blobs).
func ObjectStoreURL(cfg *config.Config, url string) (*s3blob.Client, error) {
	bucket, prefix, err := s3blob.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	return objectClient(cfg.S3, bucket, prefix)
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
