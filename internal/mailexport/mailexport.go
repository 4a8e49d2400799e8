// Package mailexport writes an account's mail out in the formats other
// programs read as they are: a Maildir++ tree (Dovecot, mutt, and any
// Maildir reader) or mbox files in mboxrd form (mutt, Thunderbird, Dovecot,
// Python's mailbox module), keeping flags, keywords and internal dates
// (docs/ARCHITECTURE.md, "mailexport"). It is the reverse of mailimport:
// what it writes, `gannet import` reads back with the same bytes, flags,
// keywords and dates.
//
// Memory is bounded whatever the account holds: mailboxes are listed in
// pages of PageSize messages (only their UIDs, four bytes each, are kept
// for a whole mailbox), and every message is streamed from store.Open to
// its file through a fixed buffer, never held whole.
package mailexport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"gannet/internal/store"
)

// Format is the layout an export writes.
type Format int

const (
	// Maildir is a Maildir++ tree: INBOX in the root's cur/, a folder
	// "a/b" in ".a.b/" (maildir.go).
	Maildir Format = iota
	// Mbox is one mboxrd file per folder, subfolders of "a" in "a.sbd/"
	// as Thunderbird keeps them (mbox.go).
	Mbox
)

func (f Format) String() string {
	if f == Mbox {
		return "mbox"
	}
	return "maildir"
}

// ParseFormat reads "mbox" or "maildir".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "mbox", "mboxrd":
		return Mbox, nil
	case "maildir", "maildir++":
		return Maildir, nil
	}
	return 0, fmt.Errorf("unknown export format %q (want mbox or maildir)", s)
}

// PageSize is how many messages one store.List reads.
const PageSize = 1000

// Summary is what an export wrote.
type Summary struct {
	Messages int
	Bytes    int64          // message bytes read from the store
	Folders  map[string]int // messages per mailbox, every mailbox included
	// Warnings say what the format could not keep (a keyword beyond the
	// 26 a Maildir folder can name, a "." in a Maildir++ folder name), at
	// most MaxWarnings of them.
	Warnings []string
	Started  time.Time
}

// MaxWarnings bounds Summary.Warnings.
const MaxWarnings = 100

func (s *Summary) warn(format string, args ...any) {
	if len(s.Warnings) < MaxWarnings {
		s.Warnings = append(s.Warnings, fmt.Sprintf(format, args...))
	}
}

// Exporter writes one account into Dir.
type Exporter struct {
	Store   store.Store
	Account *store.Account
	Format  Format
	// Dir is the account's destination: created if missing, and it must
	// be empty, so that an export never mixes with other mail.
	Dir string
	// Progress, when set, is called after every message written.
	Progress func(Summary)

	sum Summary
}

// folderWriter is one mailbox being written in a format.
type folderWriter interface {
	// add writes one message, its bytes read from r.
	add(m *store.Message, r io.Reader) error
	close() error
}

// Summary returns what the export did; call it after Export returns.
func (ex *Exporter) Summary() Summary { return ex.sum }

// Export writes every mailbox of the account. Messages that arrive during
// the export are written when their mailbox is listed after they arrived;
// a message expunged meanwhile is skipped. ctx ends it between messages.
func (ex *Exporter) Export(ctx context.Context) error {
	ex.sum = Summary{Folders: map[string]int{}, Started: time.Now()}
	if err := prepareDir(ex.Dir); err != nil {
		return err
	}
	mbs, err := ex.Store.Mailboxes(ctx, ex.Account.ID)
	if err != nil {
		return fmt.Errorf("export %s: list mailboxes: %w", ex.Account.Address, err)
	}
	sortMailboxes(mbs)
	var lay layout
	if ex.Format == Mbox {
		lay = newMboxLayout(ex.Dir)
	} else {
		lay = newMaildirLayout(ex.Dir)
	}
	for i := range mbs {
		if err := ex.mailbox(ctx, lay, &mbs[i]); err != nil {
			return err
		}
	}
	return nil
}

// sortMailboxes puts INBOX first, then the others by name: parents before
// their children, which the mbox layout needs (a parent's file beside its
// .sbd directory).
func sortMailboxes(mbs []store.Mailbox) {
	sort.Slice(mbs, func(i, j int) bool {
		a, b := mbs[i].Name, mbs[j].Name
		if (a == "INBOX") != (b == "INBOX") {
			return a == "INBOX"
		}
		return a < b
	})
}

// layout opens the writer of each mailbox.
type layout interface {
	open(mb *store.Mailbox, sum *Summary) (folderWriter, error)
}

// mailbox writes one mailbox: its UIDs first (four bytes a message), then
// the messages a page at a time.
func (ex *Exporter) mailbox(ctx context.Context, lay layout, mb *store.Mailbox) error {
	uids, err := ex.Store.Search(ctx, ex.Account.ID, mb.ID, store.Criteria{})
	if err != nil {
		return fmt.Errorf("export %s: %w", mb.Name, err)
	}
	// Read again after the search: UIDNEXT then exceeds every UID listed
	// (the Maildir writer records it in dovecot-uidlist).
	cur, err := ex.Store.MailboxByID(ctx, ex.Account.ID, mb.ID)
	if err != nil {
		return fmt.Errorf("export %s: %w", mb.Name, err)
	}
	fw, err := lay.open(cur, &ex.sum)
	if err != nil {
		return fmt.Errorf("export %s: %w", mb.Name, err)
	}
	ex.sum.Folders[mb.Name] += 0
	if kb, ok := fw.(keywordBase); ok {
		kws, err := ex.keywords(ctx, mb, uids)
		if err != nil {
			fw.close()
			return err
		}
		kb.begin(cur, kws)
	}
	for len(uids) > 0 {
		page := uids[:min(PageSize, len(uids))]
		uids = uids[len(page):]
		// One range: no UID between two listed ones can appear later.
		msgs, err := ex.Store.List(ctx, ex.Account.ID, mb.ID, store.UIDSet{{Lo: page[0], Hi: page[len(page)-1]}}, store.ListOptions{})
		if err != nil {
			fw.close()
			return fmt.Errorf("export %s: %w", mb.Name, err)
		}
		for i := range msgs {
			if err := ctx.Err(); err != nil {
				fw.close()
				return err
			}
			if err := ex.message(ctx, fw, mb, &msgs[i]); err != nil {
				fw.close()
				return err
			}
		}
	}
	if err := fw.close(); err != nil {
		return fmt.Errorf("export %s: %w", mb.Name, err)
	}
	return nil
}

// keywordBase is a writer that declares a folder's keywords before its
// first message (the mbox writer's X-IMAPbase).
type keywordBase interface {
	begin(mb *store.Mailbox, keywords []string)
}

// keywords lists the keywords the messages with these UIDs carry, a page
// of flags at a time (no message bytes are read).
func (ex *Exporter) keywords(ctx context.Context, mb *store.Mailbox, uids []uint32) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for len(uids) > 0 {
		page := uids[:min(PageSize, len(uids))]
		uids = uids[len(page):]
		msgs, err := ex.Store.List(ctx, ex.Account.ID, mb.ID, store.UIDSet{{Lo: page[0], Hi: page[len(page)-1]}}, store.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", mb.Name, err)
		}
		for _, m := range msgs {
			for _, f := range m.Flags {
				if !strings.HasPrefix(f, `\`) && !seen[strings.ToLower(f)] {
					seen[strings.ToLower(f)] = true
					out = append(out, f)
				}
			}
		}
	}
	return out, nil
}

func (ex *Exporter) message(ctx context.Context, fw folderWriter, mb *store.Mailbox, m *store.Message) error {
	rc, err := ex.Store.Open(ctx, m.BlobID)
	if errors.Is(err, store.ErrNotFound) {
		ex.sum.warn("%s UID %d: message body missing from the store, not exported", mb.Name, m.UID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("export %s UID %d: %w", mb.Name, m.UID, err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	if err := fw.add(m, cr); err != nil {
		return fmt.Errorf("export %s UID %d: %w", mb.Name, m.UID, err)
	}
	ex.sum.Messages++
	ex.sum.Bytes += cr.n
	ex.sum.Folders[mb.Name]++
	if ex.Progress != nil {
		ex.Progress(ex.sum)
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// prepareDir creates dir (0700: it holds private mail) or checks that it
// is an empty directory.
func prepareDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("export: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("export: %s is not empty (an export writes into a new or empty directory)", dir)
	}
	return nil
}

// isStateField names header fields that carry a mailbox's state in mbox
// files (as mailimport reads them): the export drops the message's own
// and writes its flags instead.
func isStateField(name string) bool {
	switch strings.ToLower(name) {
	case "status", "x-status", "x-keywords", "x-uid", "x-imap", "x-imapbase",
		"x-mozilla-status", "x-mozilla-status2", "x-mozilla-keys":
		return true
	}
	return false
}
