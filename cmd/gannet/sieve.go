package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"gannet/internal/store"
)

// maxScriptFile bounds what `sieve put` reads: the engine refuses scripts
// over 1 MiB anyway (sieve.Options.MaxScriptSize).
const maxScriptFile = 1 << 20

// cmdSieve manages an account's Sieve scripts (README "Sieve"); delivery runs
// the active one.
func cmdSieve(ctx context.Context, e *env, args []string) error {
	// account runs fn with the store and the account named by addr.
	account := func(name, argsUsage string, nargs int, a []string, fn func(st store.Store, acct *store.Account, p []string) error) error {
		return withStore(ctx, e, "sieve "+name, argsUsage, nargs, a, func(st store.Store, p []string) error {
			acct, err := st.Account(ctx, p[0])
			if err != nil {
				return fmt.Errorf("account %s: %w", p[0], err)
			}
			return fn(st, acct, p[1:])
		})
	}
	return subcommand(e, "sieve", args, map[string]func([]string) error{
		"put": func(a []string) error {
			return account("put", "ADDRESS NAME FILE|-", 3, a, func(st store.Store, acct *store.Account, p []string) error {
				src, err := readScript(e.stdin, p[1])
				if err != nil {
					return err
				}
				if err := st.PutSieveScript(ctx, acct.ID, p[0], src); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "script %s of %s stored (%d bytes)\n", p[0], acct.Address, len(src))
				return nil
			})
		},
		"list": func(a []string) error {
			return account("list", "ADDRESS", 1, a, func(st store.Store, acct *store.Account, _ []string) error {
				list, err := st.SieveScripts(ctx, acct.ID)
				if err != nil {
					return err
				}
				for _, sc := range list {
					state := "inactive"
					if sc.Active {
						state = "active"
					}
					fmt.Fprintf(e.stdout, "%s\t%d\t%s\t%s\n", sc.Name, sc.Size, state, sc.Updated.Format("2006-01-02 15:04:05Z"))
				}
				return nil
			})
		},
		"get": func(a []string) error {
			return account("get", "ADDRESS NAME", 2, a, func(st store.Store, acct *store.Account, p []string) error {
				sc, err := st.SieveScript(ctx, acct.ID, p[0])
				if err != nil {
					return fmt.Errorf("script %s: %w", p[0], err)
				}
				_, err = e.stdout.Write(sc.Content)
				return err
			})
		},
		"activate": func(a []string) error { return sieveActivate(ctx, e, a) },
		"del": func(a []string) error {
			return account("del", "ADDRESS NAME", 2, a, func(st store.Store, acct *store.Account, p []string) error {
				if err := st.DeleteSieveScript(ctx, acct.ID, p[0]); err != nil {
					return fmt.Errorf("script %s: %w (deactivate it first if it is the active one)", p[0], err)
				}
				fmt.Fprintf(e.stdout, "script %s of %s deleted\n", p[0], acct.Address)
				return nil
			})
		},
	}, []string{"put", "list", "get", "activate", "del"})
}

// sieveActivate: `gannet sieve activate ADDRESS NAME|--none`.
func sieveActivate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "sieve activate", "ADDRESS NAME|--none")
	af := addAdminFlags(fs)
	none := fs.Bool("none", false, "deactivate every script of the account")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if (*none && len(pos) != 1) || (!*none && len(pos) != 2) {
		fs.Usage()
		return errUsage
	}
	st, err := af.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	acct, err := st.Account(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("account %s: %w", pos[0], err)
	}
	name := ""
	if !*none {
		name = pos[1]
	}
	if err := st.ActivateSieveScript(ctx, acct.ID, name); err != nil {
		return fmt.Errorf("script %s: %w", name, err)
	}
	if name == "" {
		fmt.Fprintf(e.stdout, "no script of %s is active\n", acct.Address)
	} else {
		fmt.Fprintf(e.stdout, "script %s of %s is active\n", name, acct.Address)
	}
	return nil
}

// readScript reads a script from a file or, for "-", standard input.
func readScript(stdin io.Reader, path string) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxScriptFile+1))
	if err != nil {
		return nil, fmt.Errorf("read script: %w", err)
	}
	if len(b) > maxScriptFile {
		return nil, fmt.Errorf("script over %d bytes", maxScriptFile)
	}
	return b, nil
}
