package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Store backends the top-level key `store` can name.
const (
	StoreSQLite   = "sqlite"   // SQLite and message files on this machine (the default)
	StorePostgres = "postgres" // PostgreSQL, shared by several nodes
)

// StoreLocation is the parsed value of the key `store`.
type StoreLocation struct {
	// Backend is StoreSQLite or StorePostgres.
	Backend string
	// Dir is the SQLite data directory: the path of "sqlite:PATH", else
	// data_dir. Empty for PostgreSQL.
	Dir string
	// URL is the PostgreSQL connection URL as written. Empty for SQLite.
	URL string
}

// StoreLocation parses the key `store`: unset or "" is SQLite in data_dir (as
// before the key existed); "sqlite:" the same, "sqlite:PATH" SQLite in the
// directory PATH; "postgres://..." or "postgresql://..." PostgreSQL (the
// URL form libpq and pgx accept). Any other value is an error naming the key.
// The URL is never shown in the error: it may hold a password.
func (c *Config) StoreLocation() (StoreLocation, error) {
	s := strings.TrimSpace(c.Store)
	if s == "" {
		return StoreLocation{Backend: StoreSQLite, Dir: c.DataDir}, nil
	}
	if path, ok := strings.CutPrefix(s, StoreSQLite+":"); ok {
		if path == "" {
			path = c.DataDir
		}
		return StoreLocation{Backend: StoreSQLite, Dir: path}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return StoreLocation{}, fmt.Errorf("config: store: not a URL (want postgres://user@host/db, sqlite: or nothing)")
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
		if u.Host == "" && u.Query().Get("host") == "" {
			return StoreLocation{}, fmt.Errorf("config: store: a %s URL needs a host (postgres://user@host/db)", u.Scheme)
		}
		return StoreLocation{Backend: StorePostgres, URL: s}, nil
	case "":
		return StoreLocation{}, fmt.Errorf("config: store: no scheme (want postgres://user@host/db, sqlite: or nothing)")
	}
	return StoreLocation{}, fmt.Errorf("config: store: unknown scheme %q (want postgres://, postgresql://, sqlite: or nothing)", u.Scheme)
}

// BlobLocation is the parsed value of the key `blobs`.
type BlobLocation struct {
	// Bucket and Prefix of "s3://bucket/prefix"; Bucket is "" when bodies
	// stay in the store's database.
	Bucket, Prefix string
}

// BlobLocation parses the key `blobs`: "" keeps message bodies in the
// store's database; "s3://bucket/prefix" puts them in the S3-compatible
// object store of section [s3], which only a PostgreSQL store supports (a
// SQLite store keeps its message files in data_dir).
func (c *Config) BlobLocation() (BlobLocation, error) {
	s := strings.TrimSpace(c.Blobs)
	if s == "" {
		return BlobLocation{}, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return BlobLocation{}, fmt.Errorf("config: blobs: want s3://bucket/prefix (the endpoint and keys go in [s3])")
	}
	if loc, err := c.StoreLocation(); err == nil && loc.Backend != StorePostgres {
		return BlobLocation{}, fmt.Errorf("config: blobs: an object store needs store = \"postgres://...\" (SQLite keeps messages in data_dir)")
	}
	return BlobLocation{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
}
