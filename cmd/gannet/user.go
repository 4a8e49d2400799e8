package main

import (
	"context"
	"fmt"
	"strconv"

	"gannet/internal/store"
)

func cmdUser(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "user", args, map[string]func([]string) error{
		"add": func(a []string) error {
			return withStore(ctx, e, "user add", "ADDRESS  (password read from stdin)", 1, a, func(st store.Store, p []string) error {
				pw, err := readPassword(e.stdin)
				if err != nil {
					return err
				}
				acct, err := st.AddAccount(ctx, p[0], pw)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "account %s added\n", acct.Address)
				return nil
			})
		},
		"del": func(a []string) error {
			return withStore(ctx, e, "user del", "ADDRESS", 1, a, func(st store.Store, p []string) error {
				if err := st.DeleteAccount(ctx, p[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "account %s deleted\n", p[0])
				return nil
			})
		},
		"passwd": func(a []string) error {
			return withStore(ctx, e, "user passwd", "ADDRESS  (password read from stdin)", 1, a, func(st store.Store, p []string) error {
				pw, err := readPassword(e.stdin)
				if err != nil {
					return err
				}
				if err := st.SetPassword(ctx, p[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "password of %s changed\n", p[0])
				return nil
			})
		},
		"quota": func(a []string) error {
			return withStore(ctx, e, "user quota", "ADDRESS BYTES MESSAGES  (0 = unlimited)", 3, a, func(st store.Store, p []string) error {
				b, err1 := strconv.ParseInt(p[1], 10, 64)
				m, err2 := strconv.ParseInt(p[2], 10, 64)
				if err1 != nil || err2 != nil || b < 0 || m < 0 {
					return fmt.Errorf("quota must be two non-negative integers, got %q %q", p[1], p[2])
				}
				if err := st.SetQuota(ctx, p[0], b, m); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "quota of %s set to %d bytes, %d messages\n", p[0], b, m)
				return nil
			})
		},
		"pop3-policy": func(a []string) error {
			return withStore(ctx, e, "user pop3-policy", "ADDRESS delete|archive|keep", 2, a, func(st store.Store, p []string) error {
				if err := st.SetPOP3Policy(ctx, p[0], p[1]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "POP3 policy of %s set to %s\n", p[0], p[1])
				return nil
			})
		},
		// A disabled account cannot log in on any protocol, and its open
		// sessions end (the servers read the store's revocation feed); its
		// mail is kept and mail to it is still delivered.
		"disable": func(a []string) error {
			return withStore(ctx, e, "user disable", "ADDRESS  (no login on any protocol; mail still delivered)", 1, a, func(st store.Store, p []string) error {
				if err := st.SetDisabled(ctx, p[0], true); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "account %s disabled\n", p[0])
				return nil
			})
		},
		"enable": func(a []string) error {
			return withStore(ctx, e, "user enable", "ADDRESS", 1, a, func(st store.Store, p []string) error {
				if err := st.SetDisabled(ctx, p[0], false); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "account %s enabled\n", p[0])
				return nil
			})
		},
		"list": func(a []string) error {
			return withStore(ctx, e, "user list", "", 0, a, func(st store.Store, _ []string) error {
				as, err := st.Accounts(ctx)
				if err != nil {
					return err
				}
				for _, acct := range as {
					state := "enabled"
					if acct.Disabled {
						state = "disabled"
					}
					fmt.Fprintf(e.stdout, "%s\tmessages=%d\tbytes=%d\tquota_bytes=%d\tquota_messages=%d\tpop3=%s\t%s\n",
						acct.Address, acct.UsedMessages, acct.UsedBytes, acct.QuotaBytes, acct.QuotaMessages, acct.POP3Policy, state)
				}
				return nil
			})
		},
	}, []string{"add", "del", "passwd", "disable", "enable", "list", "quota", "pop3-policy"})
}
