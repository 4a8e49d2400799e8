package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/runas"
)

// dropPrivileges applies the config keys user and allow_root for `gannet
// serve` (internal/runas): started as root with user set, it binds the
// listeners, makes sure data_dir is that user's, and switches to the user
// before anything opens the store; it returns the listeners for
// app.UsePrebound (nil when nothing was bound). Started as root without user
// it refuses unless root is allowed.
func dropPrivileges(ctx context.Context, cfg *config.Config, allowRoot bool, log *slog.Logger) (*app.Prebound, error) {
	plan, err := runas.Decide(os.Geteuid(), cfg.User, cfg.AllowRoot || allowRoot, runas.Lookup)
	if err != nil {
		return nil, err
	}
	switch {
	case plan.Root:
		log.Warn("running as root (allow_root): set user = \"gannet\" in the config to run unprivileged")
	case plan.Check != nil:
		if _, err := os.Stat(cfg.DataDir); err == nil {
			return nil, runas.CheckDir(cfg.DataDir, plan.Check)
		}
	case plan.Switch != nil:
		pre, err := app.Prebind(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if err := runas.PrepareDir(cfg.DataDir, plan.Switch); err != nil {
			pre.Close()
			return nil, err
		}
		if err := runas.Switch(plan.Switch); err != nil {
			pre.Close()
			return nil, err
		}
		log.Info("listeners bound; switched user", "user", plan.Switch.Name, "uid", plan.Switch.UID, "gid", plan.Switch.GID)
		return pre, nil
	}
	return nil, nil
}

// dropForAdmin switches an admin command run as root to the configured user
// before it opens the store, so that the files it creates (database pages,
// message bodies, DKIM keys) stay the server's. Without a user key, or when
// not root, it changes nothing.
func dropForAdmin(cfg *config.Config) error {
	if os.Geteuid() != 0 || cfg.User == "" {
		return nil
	}
	id, err := runas.Lookup(cfg.User)
	if err != nil {
		return err
	}
	if id.UID == 0 {
		return nil
	}
	if err := runas.CheckDir(cfg.DataDir, id); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := runas.Switch(id); err != nil {
		return fmt.Errorf("switch to user %q: %w", cfg.User, err)
	}
	return nil
}
