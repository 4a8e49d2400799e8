package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"gannet/internal/imapbench"
)

// cmdBench runs load generators against a server on loopback, so Gannet and
// its peers (Dovecot, Postfix) are measured with the same client.
func cmdBench(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "bench", args, map[string]func([]string) error{
		"imap": func(a []string) error { return benchIMAP(ctx, e, a) },
	}, []string{"imap"})
}

// benchIMAP is `gannet bench imap`. It fails when any command failed, so a
// script comparing servers cannot mistake a run full of errors for a fast one.
func benchIMAP(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "bench imap", "")
	var o imapbench.Options
	var secs float64
	var runs int
	fs.StringVar(&o.Addr, "addr", "127.0.0.1:143", "IMAP server host:port (loopback only)")
	fs.StringVar(&o.Users, "users", "test%d@example.test", "login name, or a template with one %d")
	fs.StringVar(&o.UserRange, "user-range", "1-10", "FIRST-LAST for the %d of --users (ignored without %d)")
	fs.StringVar(&o.Password, "password", "pass", "password of every user (a test password: it is on the command line)")
	fs.IntVar(&o.Clients, "clients", imapbench.DefaultClients, "concurrent sessions")
	fs.Float64Var(&secs, "secs", imapbench.DefaultDuration.Seconds(), "seconds per run (at most 600)")
	fs.Int64Var(&o.MaxOps, "max-ops", imapbench.DefaultMaxOps, "end a run after this many commands")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed for the choice of users, messages and search words")
	fs.BoolVar(&o.TLS, "tls", false, "implicit TLS (an IMAPS port)")
	fs.BoolVar(&o.InsecureSkipVerify, "tls-insecure", false, "with --tls, accept any certificate (self-signed test servers)")
	fs.IntVar(&runs, "runs", 1, "runs, one after another; with more than one, the median ops/s is printed too")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	if runs < 1 || runs > 100 {
		return fmt.Errorf("--runs %d: want 1..100", runs)
	}
	if !strings.Contains(o.Users, "%") && !flagGiven(fs, "user-range") {
		o.UserRange = "" // the default range only means something with %d
	}
	o.Duration = time.Duration(secs * float64(time.Second))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var rates []float64
	var failed int64
	for i := range runs {
		r, err := imapbench.Run(ctx, o)
		if r != nil {
			if runs > 1 {
				fmt.Fprintf(e.stdout, "run %d: ", i+1)
			}
			r.WriteTo(e.stdout)
			rates = append(rates, r.OpsPerSec())
			failed += r.Errors
		}
		if err != nil {
			return err
		}
	}
	if runs > 1 {
		slices.Sort(rates)
		fmt.Fprintf(e.stdout, "MEDIAN gannet bench imap %s clients=%d secs=%g: %.1f ops/s (%d runs)\n",
			o.Addr, o.Clients, secs, median(rates), runs)
	}
	if failed > 0 {
		return fmt.Errorf("%d commands failed", failed)
	}
	return nil
}

// flagGiven reports whether the flag name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// median of sorted values.
func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}
