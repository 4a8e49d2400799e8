package main

import (
	"context"
	"fmt"
	"strings"

	"gannet/internal/store"
)

func cmdAlias(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "alias", args, map[string]func([]string) error{
		"add": func(a []string) error {
			return withStore(ctx, e, "alias add", "ADDRESS|@DOMAIN TARGET [TARGET...]", -1, a, func(st store.Store, p []string) error {
				if len(p) < 2 {
					return fmt.Errorf("usage: gannet alias add ADDRESS|@DOMAIN TARGET [TARGET...]")
				}
				if err := st.AddAlias(ctx, p[0], p[1:]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "alias %s -> %s added\n", p[0], strings.Join(p[1:], ", "))
				return nil
			})
		},
		"del": func(a []string) error {
			return withStore(ctx, e, "alias del", "ADDRESS|@DOMAIN", 1, a, func(st store.Store, p []string) error {
				if err := st.DeleteAlias(ctx, p[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "alias %s deleted\n", p[0])
				return nil
			})
		},
		"list": func(a []string) error {
			return withStore(ctx, e, "alias list", "", 0, a, func(st store.Store, _ []string) error {
				as, err := st.Aliases(ctx)
				if err != nil {
					return err
				}
				for _, al := range as {
					fmt.Fprintf(e.stdout, "%s\t%s\n", al.Address, strings.Join(al.Targets, ","))
				}
				return nil
			})
		},
	}, []string{"add", "del", "list"})
}
