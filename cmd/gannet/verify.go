package main

import (
	"context"
	"fmt"

	"gannet/internal/app"
	"gannet/internal/config"
)

const verifyHelp = `Checks the store without changing anything: the database's integrity,
every message's body (the file exists, decompresses, its SHA-256 and size
match), the mailbox counters and the accounts' quota usage. Each problem is
one line; the exit status is 1 when there is any. Safe on a running
server's data directory (it reads one consistent snapshot).
`

// cmdVerify checks the store of --config (or --data).
func cmdVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "verify", "")
	af := addAdminFlags(fs)
	usage := fs.Usage
	fs.Usage = func() {
		usage()
		fmt.Fprint(e.stderr, "\n"+verifyHelp)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := af.load()
	if err != nil {
		return err
	}
	return verifyAndReport(ctx, e, cfg)
}

// verifyAndReport runs app.Verify, printing each problem and a summary.
func verifyAndReport(ctx context.Context, e *env, cfg *config.Config) error {
	st, err := app.Verify(ctx, cfg, func(p string) { fmt.Fprintln(e.stdout, p) })
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "checked %d accounts, %d mailboxes, %d messages, %d message bodies (%d bytes): ",
		st.Accounts, st.Mailboxes, st.Messages, st.Bodies, st.BodyBytes)
	if st.Problems > 0 {
		fmt.Fprintf(e.stdout, "%d problems\n", st.Problems)
		return fmt.Errorf("%d problems found", st.Problems)
	}
	fmt.Fprintln(e.stdout, "no problems")
	return nil
}
