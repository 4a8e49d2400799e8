package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gannet/internal/config"
	"gannet/internal/mailimport"
	"gannet/internal/store"
)

// cmdImport is "gannet import mbox|maildir|imap": mail from files (or
// another IMAP server, importimap.go) into an account, through the store's
// APPEND path (internal/mailimport). A rerun imports only what is missing,
// so an interrupted import is resumed by running the same command again.
func cmdImport(ctx context.Context, e *env, args []string) error {
	return subcommand(e, "import", args, map[string]func([]string) error{
		"mbox":    func(a []string) error { return runImport(ctx, e, "mbox", a) },
		"maildir": func(a []string) error { return runImport(ctx, e, "maildir", a) },
		"imap":    func(a []string) error { return runImportIMAP(ctx, e, a) },
	}, []string{"mbox", "maildir", "imap"})
}

// importSource is a mailimport.Source that says how far it has read.
type importSource interface {
	mailimport.Source
	Offset() int64
}

func runImport(ctx context.Context, e *env, kind string, args []string) error {
	usage := "--to ADDR[/Mailbox] FILE|DIR...  (mbox files, or directories of them; without /Mailbox each file goes to the folder its name says)"
	if kind == "maildir" {
		usage = "--to ADDR DIR  (a Maildir or Maildir++ tree)"
	}
	fs := newFlags(e, "import "+kind, usage)
	af := addAdminFlags(fs)
	to := fs.String("to", "", "account to import into: ADDR, or ADDR/Mailbox for mbox")
	format := fs.String("format", "mboxrd", "mbox flavour: "+strings.Join(mailimport.Formats(), ", "))
	skipDup := fs.Bool("skip-duplicates", false, "skip a message whose bytes (and so Message-ID) are already in its mailbox, even twice in the source")
	maxSize := fs.Int64("max-size", 0, "largest message imported, in bytes (default limits.max_message_bytes of the config)")
	jobs := fs.Int("jobs", 1, "appends at once: more is faster (they share fsyncs), but UIDs may then differ from the source's order within that many messages")
	every := fs.Duration("progress", 10*time.Second, "interval of progress lines when the output is not a terminal (0 = none)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	addr, target, _ := strings.Cut(*to, "/")
	switch {
	case *to == "" || len(pos) == 0 || (kind == "maildir" && len(pos) != 1):
		fs.Usage()
		return errUsage
	case kind == "maildir" && target != "":
		return fmt.Errorf("--to %s: a Maildir import keeps the tree's folders; give just the address", *to)
	}
	f, err := mailimport.ParseFormat(*format)
	if err != nil {
		return err
	}
	lim := mailimport.Limits{MaxSize: *maxSize}
	if lim.MaxSize <= 0 {
		if lim.MaxSize, err = configMaxSize(*af.config); err != nil {
			return err
		}
	}
	// Check the input before touching the store.
	var total int64
	var md *mailimport.Maildir
	var files []mailimport.MboxFile
	if kind == "maildir" {
		if md, err = mailimport.OpenMaildir(pos[0], lim); err != nil {
			return err
		}
		total = md.Size()
	} else if files, err = mboxFiles(pos); err != nil {
		return err
	}
	for _, f := range files {
		total += f.Size
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, err := af.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	acct, err := st.Account(ctx, addr)
	if err != nil {
		return fmt.Errorf("account %s: %w", addr, err)
	}
	if target != "" {
		if target, err = store.NormMailbox(target); err != nil {
			return fmt.Errorf("--to %s: %w", *to, err)
		}
	}
	prog := newProgress(e.stdout, total, *every)
	var cur importSource
	var done int64 // bytes of the sources finished
	im := &mailimport.Importer{Store: st, Account: acct, Target: target, SkipDuplicates: *skipDup, Workers: *jobs,
		Progress: func(s mailimport.Summary) { prog.update(s, done+cur.Offset()) }}

	if kind == "maildir" {
		cur = md
		err = im.Import(ctx, md)
	} else {
		for _, mf := range files {
			if err = importFile(ctx, im, mf, f, lim, &cur); err != nil {
				break
			}
			done += cur.Offset()
		}
	}
	prog.finish()
	printSummary(e.stdout, acct.Address, im.Summary())
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted: run the same command again to import the rest")
	}
	return err
}

// mboxFiles lists the mbox files the arguments name: files as they are
// (each the folder its name says), directories as trees of mbox files
// (mailimport.MboxTree: a Thunderbird profile's folders, a mutt mail
// directory).
func mboxFiles(args []string) ([]mailimport.MboxFile, error) {
	var out []mailimport.MboxFile
	for _, p := range args {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, mailimport.MboxFile{Path: p, Folder: mailimport.MboxFolder(p), Size: st.Size()})
			continue
		}
		tree, err := mailimport.MboxTree(p)
		if err != nil {
			return nil, err
		}
		if len(tree) == 0 {
			return nil, fmt.Errorf("%s: no mbox files in it (for a Maildir, gannet import maildir)", p)
		}
		out = append(out, tree...)
	}
	return out, nil
}

// importFile imports one mbox file.
func importFile(ctx context.Context, im *mailimport.Importer, mf mailimport.MboxFile, f mailimport.Format, lim mailimport.Limits, cur *importSource) error {
	fh, err := os.Open(mf.Path)
	if err != nil {
		return err
	}
	defer fh.Close()
	src := mailimport.NewMbox(fh, mf.Path, f, lim)
	src.Mailbox = mf.Folder
	*cur = src
	return im.Import(ctx, src)
}

// configMaxSize is the server's message size limit: what SMTP and APPEND
// accept is what an import accepts.
func configMaxSize(path string) (int64, error) {
	if path == "" {
		return config.Default().Limits.MaxMessageBytes, nil
	}
	c, err := config.Load(path)
	if err != nil {
		return 0, err
	}
	return c.Limits.MaxMessageBytes, nil
}

// progress shows how an import goes: on a terminal one line redrawn a few
// times a second with rate and ETA; otherwise a plain line every interval.
type progress struct {
	w       io.Writer
	tty     bool
	total   int64
	every   time.Duration
	start   time.Time
	last    time.Time
	printed bool
}

func newProgress(w io.Writer, total int64, every time.Duration) *progress {
	now := time.Now()
	p := &progress{w: w, total: total, every: every, start: now, last: now}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty, p.every = true, 200*time.Millisecond
		}
	}
	return p
}

func (p *progress) update(s mailimport.Summary, read int64) {
	now := time.Now()
	if p.every <= 0 || now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	secs := now.Sub(p.start).Seconds()
	line := fmt.Sprintf("%d messages, %s", s.Messages, mb(read))
	if p.total > 0 { // unknown for an IMAP source
		line += fmt.Sprintf(" of %s (%d%%)", mb(p.total), read*100/p.total)
	}
	if secs > 0 {
		rate := float64(read) / secs
		line += fmt.Sprintf(", %.0f msg/s, %s/s", float64(s.Messages+s.SkippedTotal())/secs, mb(int64(rate)))
		if rate > 0 && read < p.total {
			eta := time.Duration(float64(p.total-read) / rate * float64(time.Second))
			line += ", ETA " + eta.Round(time.Second).String()
		}
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.printed = true
		return
	}
	fmt.Fprintf(p.w, "progress: %s\n", line)
}

func (p *progress) finish() {
	if p.tty && p.printed {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func printSummary(w io.Writer, addr string, s mailimport.Summary) {
	secs := time.Since(s.Started).Seconds()
	fmt.Fprintf(w, "imported %d messages (%s) into %d folders of %s in %.1fs", s.Messages, mb(s.Bytes), len(s.Folders), addr, secs)
	if secs > 0 {
		fmt.Fprintf(w, " (%.0f msg/s, %s/s)", float64(s.Messages)/secs, mb(int64(float64(s.Bytes)/secs)))
	}
	fmt.Fprintln(w)
	for _, n := range s.FolderNames() {
		fmt.Fprintf(w, "  %-30s %d\n", n, s.Folders[n])
	}
	if s.SkippedTotal() == 0 {
		return
	}
	var parts []string
	for _, r := range []string{mailimport.ReasonImported, mailimport.ReasonDuplicate, mailimport.ReasonTooLarge,
		mailimport.ReasonLongLine, mailimport.ReasonTruncated, mailimport.ReasonNoHeader, mailimport.ReasonEmpty,
		mailimport.ReasonGarbage, mailimport.ReasonDeleted, mailimport.ReasonUnreadable} {
		if n := s.Skipped[r]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, n))
		}
	}
	fmt.Fprintf(w, "skipped %d: %s\n", s.SkippedTotal(), strings.Join(parts, ", "))
	for _, r := range s.Reports {
		fmt.Fprintf(w, "  %v\n", r)
	}
	if n := s.SkippedTotal() - s.Skipped[mailimport.ReasonImported] - len(s.Reports); n > 0 {
		fmt.Fprintf(w, "  (and %d more)\n", n)
	}
}
