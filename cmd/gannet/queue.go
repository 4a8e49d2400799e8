package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gannet/internal/store"
)

// cmdQueue inspects and manages the outbound queue in the store. It works
// whether or not a server is running: a running server notices a retry at its
// next look at the store (at most a minute later).
func cmdQueue(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "queue", args, map[string]func([]string) error{
		"list": func(a []string) error {
			return withStore(ctx, e, "queue list", "", 0, a, func(st store.Store, _ []string) error {
				msgs, err := st.QueueList(ctx)
				if err != nil {
					return err
				}
				if len(msgs) == 0 {
					fmt.Fprintln(e.stdout, "queue is empty")
					return nil
				}
				n := 0
				for _, m := range msgs {
					fmt.Fprintf(e.stdout, "%d\t%s\t%d\t<%s>\n", m.ID, m.Created.UTC().Format(time.RFC3339), m.Size, m.From)
					for _, r := range m.Recipients {
						fmt.Fprintf(e.stdout, "\t%s\tattempts=%d\tnext=%s", r.Address, r.Attempts, r.NextAttempt.UTC().Format(time.RFC3339))
						if r.LastError != "" {
							fmt.Fprintf(e.stdout, "\t%s", r.LastError)
						}
						fmt.Fprintln(e.stdout)
						n++
					}
				}
				fmt.Fprintf(e.stdout, "%d messages, %d recipients\n", len(msgs), n)
				return nil
			})
		},
		"show": func(a []string) error {
			return withStore(ctx, e, "queue show", "ID", 1, a, func(st store.Store, p []string) error {
				id, err := queueID(p[0])
				if err != nil {
					return err
				}
				m, err := st.QueueMessage(ctx, id)
				if err != nil {
					return err
				}
				raw, err := st.QueueMessageData(ctx, id)
				if err != nil {
					return err
				}
				showQueued(e, m, raw)
				return nil
			})
		},
		"retry": func(a []string) error {
			return withStore(ctx, e, "queue retry", "[ID]  (no ID: every message)", -1, a, func(st store.Store, p []string) error {
				var id int64
				switch len(p) {
				case 0:
				case 1:
					var err error
					if id, err = queueID(p[0]); err != nil {
						return err
					}
				default:
					return fmt.Errorf("usage: gannet queue retry [ID]")
				}
				n, err := st.QueueRetry(ctx, id, time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%d recipients due for delivery now\n", n)
				return nil
			})
		},
		"drop": func(a []string) error {
			return withStore(ctx, e, "queue drop", "ID", 1, a, func(st store.Store, p []string) error {
				id, err := queueID(p[0])
				if err != nil {
					return err
				}
				if err := st.QueueDrop(ctx, id); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "message %d dropped (no DSN sent)\n", id)
				return nil
			})
		},
	}, []string{"list", "show", "retry", "drop"})
}

func queueID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("queue ID must be a positive integer, got %q", s)
	}
	return id, nil
}

// showQueued prints a message's envelope, its recipients' state and the
// message header (not the body: it is the user's mail).
func showQueued(e *env, m *store.QueuedMessage, raw []byte) {
	fmt.Fprintf(e.stdout, "id: %d\ncreated: %s\nsize: %d\nfrom: <%s>\n", m.ID, m.Created.UTC().Format(time.RFC3339), m.Size, m.From)
	if m.AccountID != 0 {
		fmt.Fprintf(e.stdout, "account: %d\n", m.AccountID)
	}
	if m.EnvID != "" {
		fmt.Fprintf(e.stdout, "envid: %s\n", m.EnvID)
	}
	if m.Ret != "" {
		fmt.Fprintf(e.stdout, "ret: %s\n", m.Ret)
	}
	for _, r := range m.Recipients {
		fmt.Fprintf(e.stdout, "recipient: %s\n  attempts: %d\n  next attempt: %s\n", r.Address, r.Attempts, r.NextAttempt.UTC().Format(time.RFC3339))
		if !r.LastAttempt.IsZero() {
			fmt.Fprintf(e.stdout, "  last attempt: %s\n", r.LastAttempt.UTC().Format(time.RFC3339))
		}
		if r.LastError != "" {
			fmt.Fprintf(e.stdout, "  last error: %s\n", r.LastError)
		}
		if r.Notify != "" {
			fmt.Fprintf(e.stdout, "  notify: %s\n", r.Notify)
		}
		if r.DelayNotified {
			fmt.Fprintf(e.stdout, "  delay notification sent\n")
		}
		if r.LeaseOwner != "" {
			// Which node is delivering it (on PostgreSQL; on SQLite leases
			// live in the server's memory and do not show here).
			fmt.Fprintf(e.stdout, "  leased by: %s until %s\n", r.LeaseOwner, r.LeaseUntil.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintln(e.stdout, "header:")
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		fmt.Fprintf(e.stdout, "  %s\n", line)
	}
}
