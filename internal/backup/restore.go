package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Restore writes the snapshot name of the backup in dir (the newest
// complete one when name is "") into newDir as a data directory: its
// database and the message files it needs, fsynced. newDir must not exist
// or be empty: a restore never mixes with other data. The caller then
// verifies the result (`gannet restore` runs verify).
func Restore(ctx context.Context, dir, newDir, name string) (Manifest, error) {
	var m Manifest
	snaps, err := Snapshots(dir)
	if err != nil {
		return m, err
	}
	if len(snaps) == 0 {
		return m, fmt.Errorf("restore: %s holds no complete backup", dir)
	}
	m = snaps[len(snaps)-1]
	if name != "" {
		found := false
		for _, s := range snaps {
			if s.Name == name {
				m, found = s, true
			}
		}
		if !found {
			return m, fmt.Errorf("restore: %s holds no complete snapshot %q", dir, name)
		}
	}
	if ents, err := os.ReadDir(newDir); err == nil && len(ents) > 0 {
		return m, fmt.Errorf("restore: %s is not empty: restore into a new directory", newDir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(newDir, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	if err := os.Chmod(newDir, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	snap := filepath.Join(dir, "snapshots", m.Name)
	if _, err := copyFile(filepath.Join(snap, "gannet.db"), filepath.Join(newDir, "gannet.db")); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	src, dst := filepath.Join(dir, "blobs"), filepath.Join(newDir, "blobs")
	if err := os.Mkdir(dst, 0o700); err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	leaves := map[string]bool{}
	err = eachBlob(snap, func(id string) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		leaf := filepath.Join(dst, id[:2])
		if !leaves[id[:2]] {
			if err := os.MkdirAll(leaf, 0o700); err != nil {
				return err
			}
			leaves[id[:2]] = true
		}
		if _, err := copyFile(filepath.Join(src, id[:2], id), filepath.Join(leaf, id)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("the backup is missing message file %s: %w", id, err)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return m, fmt.Errorf("restore: %w", err)
	}
	for leaf := range leaves {
		if err := syncDir(filepath.Join(dst, leaf)); err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
	}
	for _, d := range []string{dst, newDir, filepath.Dir(filepath.Clean(newDir))} {
		if err := syncDir(d); err != nil {
			return m, fmt.Errorf("restore: %w", err)
		}
	}
	return m, nil
}
