package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"gannet/internal/config"
	"gannet/internal/mailimport"
)

// runImportIMAP is "gannet import imap --from imaps://user@host --to ADDR":
// every folder of another IMAP server into an account, flags, keywords and
// internal dates kept, special-use folders into the account's own
// (mailimport.ImportIMAP). The password is read from standard input. A
// rerun fetches only the UIDs above those it imported before (the state
// file under the data directory's import-state/).
func runImportIMAP(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "import imap", "--from imaps://USER@HOST[:PORT] --to ADDR  (password on standard input; imap:// uses STARTTLS)")
	af := addAdminFlags(fs)
	from := fs.String("from", "", "source server and user: imaps://user@host[:port] (TLS) or imap://user@host[:port] (STARTTLS)")
	to := fs.String("to", "", "account to import into")
	insecure := fs.Bool("insecure", false, "accept any certificate of the source (self-signed, private servers); still encrypted")
	statePath := fs.String("state", "", "state file (default DATA/import-state/imap-HASH.json)")
	maxSize := fs.Int64("max-size", 0, "largest message imported, in bytes (default limits.max_message_bytes of the config)")
	jobs := fs.Int("jobs", 4, "appends at once (they share fsyncs)")
	every := fs.Duration("progress", 10*time.Second, "interval of progress lines when the output is not a terminal (0 = none)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *from == "" || *to == "" || len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	if _, _, _, err := mailimport.ParseIMAPURL(*from); err != nil {
		return err
	}
	lim := mailimport.Limits{MaxSize: *maxSize}
	if lim.MaxSize <= 0 {
		if lim.MaxSize, err = configMaxSize(*af.config); err != nil {
			return err
		}
	}
	if *statePath == "" {
		dir, err := dataDir(af)
		if err != nil {
			return err
		}
		*statePath = mailimport.IMAPStatePath(dir, *from, *to)
	}
	pw, err := readPassword(e.stdin)
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
	acct, err := st.Account(ctx, *to)
	if err != nil {
		return fmt.Errorf("account %s: %w", *to, err)
	}
	state, err := mailimport.LoadIMAPState(*statePath, *from, acct.Address)
	if err != nil {
		return err
	}
	src, err := mailimport.DialIMAP(ctx, mailimport.IMAPOptions{URL: *from, Password: pw, Insecure: *insecure, Limits: lim})
	if err != nil {
		return err
	}
	defer src.Close()
	prog := newProgress(e.stdout, 0, *every)
	im := &mailimport.Importer{Store: st, Account: acct, Workers: *jobs,
		Progress: func(s mailimport.Summary) { prog.update(s, s.Bytes) }}
	err = mailimport.ImportIMAP(ctx, im, src, state, *statePath)
	prog.finish()
	printSummary(e.stdout, acct.Address, im.Summary())
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted: run the same command again to import the rest")
	}
	return err
}

// dataDir is the data directory the admin flags name (where the import
// state is kept).
func dataDir(af adminFlags) (string, error) {
	switch {
	case *af.data != "":
		return *af.data, nil
	case *af.config != "":
		c, err := config.Load(*af.config)
		if err != nil {
			return "", err
		}
		return c.DataDir, nil
	}
	return "./gannet-data", nil
}
