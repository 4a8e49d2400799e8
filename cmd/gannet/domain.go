package main

import (
	"context"
	"fmt"
	"time"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/store"
)

func cmdDomain(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "domain", args, map[string]func([]string) error{
		"add": func(a []string) error {
			return withStore(ctx, e, "domain add", "DOMAIN", 1, a, func(st store.Store, p []string) error {
				if err := app.AddDomain(ctx, st, p[0], time.Now()); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "domain %s added with DKIM keys; 'gannet domain dns %s' prints the DNS records to publish\n", p[0], p[0])
				return nil
			})
		},
		"del": func(a []string) error {
			return withStore(ctx, e, "domain del", "DOMAIN", 1, a, func(st store.Store, p []string) error {
				if err := st.DeleteDomain(ctx, p[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "domain %s deleted\n", p[0])
				return nil
			})
		},
		"list": func(a []string) error {
			return withStore(ctx, e, "domain list", "", 0, a, func(st store.Store, _ []string) error {
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
		"dns": func(a []string) error {
			fs := newFlags(e, "domain dns", "DOMAIN")
			af := addAdminFlags(fs)
			host := fs.String("host", "", "this server's host name (default: hostname of --config, else mail.DOMAIN)")
			pos, err := parseArgs(fs, a)
			if err != nil {
				return err
			}
			if len(pos) != 1 {
				fs.Usage()
				return errUsage
			}
			h := *host
			if h == "" && *af.config != "" {
				if cfg, err := config.Load(*af.config); err == nil {
					h = cfg.Hostname
				}
			}
			if h == "" {
				h = "mail." + pos[0]
				// The server serves the MTA-STS policy for its own hostname,
				// and the _mta-sts id is the digest of the policy: printed
				// for another host name, the id would not match.
				fmt.Fprintf(e.stderr, "gannet: no --config or --host: assuming the server's hostname is %s; "+
					"if it is not, the records (and the _mta-sts id) will not match what the server serves\n", h)
			}
			st, err := af.open(ctx)
			if err != nil {
				return err
			}
			defer st.Close()
			recs, err := app.DNSRecords(ctx, st, pos[0], h)
			if err != nil {
				return err
			}
			for _, r := range recs {
				fmt.Fprintln(e.stdout, r.String())
			}
			return nil
		},
	}, []string{"add", "del", "list", "dns"})
}
