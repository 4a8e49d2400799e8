package app

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gannet/internal/config"
)

func TestOpenStoreBackends(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// "sqlite:PATH" puts the database in PATH, not in data_dir.
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	dbDir := filepath.Join(t.TempDir(), "db")
	cfg.Store = "sqlite:" + dbDir
	cfg.Domains = []string{"example.org"}
	st, err := OpenStore(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := st.IsLocalDomain(t.Context(), "example.org"); err != nil || !ok {
		t.Errorf("configured domain after OpenStore: %v %v", ok, err)
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(dbDir, "gannet.db")); err != nil {
		t.Errorf("sqlite:%s: %v", dbDir, err)
	}
	if _, err := os.Stat(cfg.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data_dir was used for a sqlite:PATH store: %v", err)
	}

	// A postgres:// store goes to PostgreSQL (here to a port where none
	// listens, so it fails saying so), never to data_dir.
	cfg.Store = "postgres://gannet@127.0.0.1:1/gannet?connect_timeout=5"
	if st, err := OpenStore(t.Context(), cfg, log); err == nil {
		st.Close()
		t.Fatal("postgres store opened with no server")
	} else if !strings.Contains(err.Error(), "pgstore: connect") {
		t.Fatalf("postgres store: %v", err)
	}
}
