package main

import (
	"context"
	"fmt"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/store/migrate"
)

const migrateHelp = `Moves a SQLite install to PostgreSQL while the server keeps serving.
Accounts, mailboxes and messages keep their ids, UIDs, UIDVALIDITY and
MODSEQs, so mail clients do not download everything again.

  1. gannet migrate --to postgres://user@host/db --config gannet.toml
     copies everything, then what changed meanwhile (run it while the
     server serves; run it again to catch up again, or after an
     interruption: it resumes);
  2. stop the server;
  3. gannet migrate --to postgres://user@host/db --config gannet.toml --finish
     copies the last changes (seconds) and ends the move;
  4. set store = "postgres://user@host/db" in the configuration and start
     the server.

With --blobs s3://bucket/prefix the message bodies go to that object store
(reached as section [s3] of the configuration says) instead of PostgreSQL:
give it on every pass, and set blobs to the same URL in step 4.

The target database must hold no accounts (or be the target of an
unfinished move from the same install).
`

// cmdMigrate runs internal/store/migrate from the SQLite install of
// --config (or --data) to the PostgreSQL database of --to.
func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "")
	to := fs.String("to", "", "the PostgreSQL database to move to (postgres://user@host/db)")
	finish := fs.Bool("finish", false, "the last pass, with the server stopped: ends the move")
	blobs := fs.String("blobs", "", "put the message bodies in this object store (s3://bucket/prefix, reached as the config's [s3] says): the target's blobs key")
	af := addAdminFlags(fs)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(e.stderr, "\n"+migrateHelp)
	}
	if _, err := parseArgs(fs, args); err != nil {
		return err
	}
	if *to == "" {
		fs.Usage()
		return errUsage
	}
	cfg := config.Default()
	cfg.DataDir = "./gannet-data"
	switch {
	case *af.config != "" && *af.data != "":
		return fmt.Errorf("give --data or --config, not both")
	case *af.config != "":
		c, err := config.Load(*af.config)
		if err != nil {
			return err
		}
		if err := dropForAdmin(c); err != nil {
			return err
		}
		cfg = c
	case *af.data != "":
		cfg.DataDir = *af.data
	}
	loc, err := cfg.StoreLocation()
	if err != nil {
		return err
	}
	if loc.Backend != config.StoreSQLite {
		return fmt.Errorf("the configuration's store is not SQLite: nothing to move")
	}
	toCfg := config.Default()
	toCfg.Store = *to
	if dst, err := toCfg.StoreLocation(); err != nil || dst.Backend != config.StorePostgres {
		return fmt.Errorf("--to: want a postgres:// URL")
	}
	ro := migrate.RunOptions{Dir: loc.Dir, URL: *to, Finish: *finish, Out: e.stderr}
	if *blobs != "" {
		if ro.Objects, err = app.ObjectStoreURL(cfg, *blobs); err != nil {
			return err
		}
	}
	return migrate.Run(ctx, ro)
}
