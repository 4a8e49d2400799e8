// Command gannet is a whole mail server in one binary: SMTP, IMAP, POP3 and
// webmail over one store. This file only dispatches subcommands; the work is in
// internal/app and the packages it wires.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// env is what a subcommand may touch: no globals, so tests can run main in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"serve":      {"run the server with a config file", cmdServe},
		"dev":        {"run a development server on loopback with a demo account", cmdDev},
		"domain":     {"manage domains: add|del|list", cmdDomain},
		"user":       {"manage accounts: add|del|passwd|disable|enable|list|quota|pop3-policy", cmdUser},
		"alias":      {"manage aliases: add|del|list", cmdAlias},
		"queue":      {"inspect the outbound queue: list|show|retry|drop", cmdQueue},
		"import":     {"import mail: mbox|maildir files, or an IMAP server", cmdImport},
		"export":     {"write accounts out as Maildir or mbox files", cmdExport},
		"sieve":      {"manage an account's Sieve scripts: put|list|get|activate|del", cmdSieve},
		"bench":      {"load generators: imap", cmdBench},
		"migrate":    {"move a SQLite install to PostgreSQL, online", cmdMigrate},
		"backup":     {"back up a SQLite install into a directory, online", cmdBackup},
		"restore":    {"restore a backup into a new data directory", cmdRestore},
		"verify":     {"check the store's integrity, bodies and counters", cmdVerify},
		"doctor":     {"check DNS, certificate and ports of a domain from the outside", cmdDoctor},
		"quickstart": {"set up a server for real: config, domain, first account, DNS records", cmdQuickstart},
		"version":    {"print the version", cmdVersion},
	}
}

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(run(context.Background(), e, os.Args[1:]))
}

// errUsage marks an error whose usage text was already printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, e *env, args []string) int {
	cmds := commands()
	if len(args) > 0 && args[0] == "--version" {
		args[0] = "version"
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "gannet: unknown command %q\n", args[0])
		usage(e.stderr, cmds)
		return 2
	}
	if err := c.run(ctx, e, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if !errors.Is(err, errUsage) {
			fmt.Fprintf(e.stderr, "gannet %s: %v\n", args[0], err)
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: gannet COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'gannet COMMAND -h' for a command's flags.")
}

// newFlags makes a FlagSet that reports errors instead of exiting.
func newFlags(e *env, name, argsUsage string) *flag.FlagSet {
	fs := flag.NewFlagSet("gannet "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: gannet %s [flags] %s\n", name, argsUsage)
		fs.PrintDefaults()
	}
	return fs
}

// readPassword reads one line from stdin (so scripts can pipe it).
func readPassword(r io.Reader) (string, error) {
	var sb strings.Builder
	buf := make([]byte, 1)
	for sb.Len() < 4096 {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			sb.WriteByte(buf[0])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
	}
	pw := strings.TrimSuffix(sb.String(), "\r")
	if pw == "" {
		return "", errors.New("empty password on standard input")
	}
	return pw, nil
}
