package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"gannet/internal/mailexport"
	"gannet/internal/store"
)

// cmdExport is "gannet export ADDR|--all --format mbox|maildir DIR": an
// account's mail (or every account's, each in DIR/ADDRESS) written as files
// other programs open as they are (internal/mailexport).
func cmdExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export", "ADDR DIR | --all DIR  (DIR new or empty; with --all each account in DIR/ADDRESS)")
	af := addAdminFlags(fs)
	format := fs.String("format", "maildir", "maildir (a Maildir++ tree: Dovecot, mutt) or mbox (mboxrd files: mutt, Thunderbird)")
	all := fs.Bool("all", false, "export every account, each into DIR/ADDRESS")
	every := fs.Duration("progress", 10*time.Second, "interval of progress lines (0 = none)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if (*all && len(pos) != 1) || (!*all && len(pos) != 2) {
		fs.Usage()
		return errUsage
	}
	f, err := mailexport.ParseFormat(*format)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := af.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	var accts []store.Account
	dir := pos[len(pos)-1]
	if *all {
		if accts, err = st.Accounts(ctx); err != nil {
			return err
		}
	} else {
		a, err := st.Account(ctx, pos[0])
		if err != nil {
			return fmt.Errorf("account %s: %w", pos[0], err)
		}
		accts = []store.Account{*a}
	}
	for i := range accts {
		a := &accts[i]
		d := dir
		if *all {
			d = filepath.Join(dir, a.Address)
		}
		last := time.Now()
		ex := &mailexport.Exporter{Store: st, Account: a, Format: f, Dir: d,
			Progress: func(s mailexport.Summary) {
				if *every > 0 && time.Since(last) >= *every {
					last = time.Now()
					fmt.Fprintf(e.stdout, "progress: %s: %d messages, %s\n", a.Address, s.Messages, mb(s.Bytes))
				}
			}}
		err := ex.Export(ctx)
		printExportSummary(e.stdout, a.Address, d, f, ex.Summary())
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted: %s is incomplete", d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func printExportSummary(w io.Writer, addr, dir string, f mailexport.Format, s mailexport.Summary) {
	secs := time.Since(s.Started).Seconds()
	fmt.Fprintf(w, "exported %d messages (%s) in %d folders of %s to %s (%s) in %.1fs\n",
		s.Messages, mb(s.Bytes), len(s.Folders), addr, dir, f, secs)
	for _, n := range slices.Sorted(maps.Keys(s.Folders)) {
		fmt.Fprintf(w, "  %-30s %d\n", n, s.Folders[n])
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}
