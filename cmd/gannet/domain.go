package main

import (
	"context"
	"fmt"

	"gannet/internal/store/sqlstore"
)

func cmdDomain(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "domain", args, map[string]func([]string) error{
		"add": func(a []string) error {
			return withStore(ctx, e, "domain add", "DOMAIN", 1, a, func(st *sqlstore.Store, p []string) error {
				if err := st.AddDomain(ctx, p[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "domain %s added\n", p[0])
				return nil
			})
		},
		"del": func(a []string) error {
			return withStore(ctx, e, "domain del", "DOMAIN", 1, a, func(st *sqlstore.Store, p []string) error {
				if err := st.DeleteDomain(ctx, p[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "domain %s deleted\n", p[0])
				return nil
			})
		},
		"list": func(a []string) error {
			return withStore(ctx, e, "domain list", "", 0, a, func(st *sqlstore.Store, _ []string) error {
				ds, err := st.Domains(ctx)
				if err != nil {
					return err
				}
				for _, d := range ds {
					fmt.Fprintln(e.stdout, d.Name)
				}
				return nil
			})
		},
	}, []string{"add", "del", "list"})
}
