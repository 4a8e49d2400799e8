package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/store"
)

// adminFlags are the flags every admin command takes: where the data is. The
// store is opened by app.OpenStore, so the key `store` of --config chooses the
// backend as it does for the server.
type adminFlags struct {
	data   *string
	config *string
}

func addAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		data:   fs.String("data", "", "data directory (default ./gannet-data, or data_dir of --config)"),
		config: fs.String("config", "", "configuration file to take data_dir and store from"),
	}
}

// parseArgs parses flags that may come before or after positional arguments
// ("gannet user add bob@x --data DIR" and "... --data DIR bob@x" both work).
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func (f adminFlags) open(ctx context.Context) (store.Store, error) {
	cfg, err := f.load()
	if err != nil {
		return nil, err
	}
	return app.OpenStore(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// load is the configuration the flags name: --config's, or the defaults
// with --data (or ./gannet-data) as the data directory.
func (f adminFlags) load() (*config.Config, error) {
	cfg := config.Default()
	switch {
	case *f.config != "" && *f.data != "":
		return nil, fmt.Errorf("give --data or --config, not both")
	case *f.config != "":
		c, err := config.Load(*f.config)
		if err != nil {
			return nil, err
		}
		if err := dropForAdmin(c); err != nil {
			return nil, err
		}
		return c, nil
	case *f.data != "":
		cfg.DataDir = *f.data
	default:
		cfg.DataDir = "./gannet-data"
	}
	cfg.Domains = nil
	return cfg, nil
}

// subcommand dispatches "gannet NOUN VERB ...".
func subcommand(e *env, noun string, args []string, verbs map[string]func([]string) error, order []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(e.stderr, "usage: gannet %s VERB [flags] [args]\nverbs:", noun)
		for _, v := range order {
			fmt.Fprintf(e.stderr, " %s", v)
		}
		fmt.Fprintln(e.stderr)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	fn, ok := verbs[args[0]]
	if !ok {
		return fmt.Errorf("unknown verb %q (want one of %v)", args[0], order)
	}
	return fn(args[1:])
}

// withStore parses flags for a verb that needs exactly nargs arguments and runs fn
// with an open store.
func withStore(ctx context.Context, e *env, name, argsUsage string, nargs int, args []string,
	fn func(st store.Store, pos []string) error) error {
	fs := newFlags(e, name, argsUsage)
	af := addAdminFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if nargs >= 0 && len(pos) != nargs {
		fs.Usage()
		return errUsage
	}
	st, err := af.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(st, pos)
}
