package mailimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"gannet/internal/store"
)

// Importer writes messages from Sources into one account with store.Append,
// the path IMAP APPEND takes: quotas are enforced, every message gets the
// next MODSEQ, and the change feed tells IMAP IDLE and the webmail.
//
// Resuming needs no state file: a message's blob id is the SHA-256 of its
// bytes (store.Ingest), so before the first message into a mailbox the
// importer counts the blob ids already there, and the n-th copy of some
// bytes in the source is imported only if the mailbox holds fewer than n.
// A rerun of an interrupted (or complete) import adds exactly what is
// missing, and a source that holds a message twice still yields two.
type Importer struct {
	Store   store.Store
	Account *store.Account
	// Target, when set, is the mailbox every message goes into, whatever
	// the source says (gannet import mbox --to ADDR/Mailbox).
	Target string
	// SkipDuplicates skips a message whose bytes (and so its Message-ID)
	// are already in the mailbox, even when the source holds it twice.
	SkipDuplicates bool
	// Progress, when set, is called after every message.
	Progress func(Summary)

	sum   Summary
	boxes map[string]*boxState // by source name
}

// boxState is one target mailbox during an import.
type boxState struct {
	mb       *store.Mailbox
	existing map[[32]byte]int // blob ids in the mailbox before the import, counted
	seen     map[[32]byte]int // copies met in the sources so far
}

// Summary is what an import did.
type Summary struct {
	Messages int            // imported
	Bytes    int64          // of the messages imported
	Folders  map[string]int // messages imported per mailbox (every mailbox used or created)
	Skipped  map[string]int // by reason
	// Reports are the first MaxReports skips, with their positions (not
	// those already imported: a rerun would list every message).
	Reports []*SkipError
	Started time.Time
}

// MaxReports bounds Summary.Reports.
const MaxReports = 100

// SkippedTotal is the number of messages skipped.
func (s Summary) SkippedTotal() int {
	n := 0
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

// Summary returns what the importer did so far.
func (im *Importer) Summary() Summary { return im.sum }

func (im *Importer) init() {
	if im.boxes == nil {
		im.boxes = map[string]*boxState{}
		im.sum = Summary{Folders: map[string]int{}, Skipped: map[string]int{}, Started: time.Now()}
	}
}

// Import reads src to its end. A skipped message is counted and reported in
// the summary; the error returned is a source that cannot be read on, or a
// store refusal (such as store.ErrOverQuota) that would refuse every later
// message too. ctx ends the import between two messages.
func (im *Importer) Import(ctx context.Context, src Source) error {
	im.init()
	if lf, ok := src.(interface{ Folders() []string }); ok && im.Target == "" {
		for _, name := range lf.Folders() {
			if _, err := im.box(ctx, name); err != nil {
				return err
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		msg, err := src.Next()
		var skip *SkipError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &skip):
			im.skipped(skip)
			continue
		case err != nil:
			return err
		}
		if err := im.add(ctx, msg); err != nil {
			return err
		}
		if im.Progress != nil {
			im.Progress(im.sum)
		}
	}
}

func (im *Importer) skipped(s *SkipError) {
	im.sum.Skipped[s.Reason]++
	if s.Reason != ReasonImported && len(im.sum.Reports) < MaxReports {
		im.sum.Reports = append(im.sum.Reports, s)
	}
}

func (im *Importer) add(ctx context.Context, msg *Message) error {
	name := msg.Mailbox
	if im.Target != "" {
		name = im.Target
	}
	b, err := im.box(ctx, name)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(msg.Raw)
	b.seen[sum]++
	switch {
	case b.seen[sum] <= b.existing[sum]:
		im.skipped(&SkipError{Pos: msg.Pos, Reason: ReasonImported})
		return nil
	case im.SkipDuplicates && b.seen[sum] > 1:
		im.skipped(&SkipError{Pos: msg.Pos, Reason: ReasonDuplicate, Detail: "the same message is in " + b.mb.Name})
		return nil
	}
	if _, err := im.Store.Append(ctx, im.Account.ID, b.mb.ID, msg.Raw, msg.Flags, msg.Date); err != nil {
		return fmt.Errorf("import %s into %s: %w", msg.Pos, b.mb.Name, err)
	}
	im.sum.Messages++
	im.sum.Bytes += int64(len(msg.Raw))
	im.sum.Folders[b.mb.Name]++
	return nil
}

// box returns the target mailbox for a source folder name, creating it.
func (im *Importer) box(ctx context.Context, name string) (*boxState, error) {
	if name == "" {
		name = "INBOX"
	}
	if b, ok := im.boxes[name]; ok {
		return b, nil
	}
	mb, err := im.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	// Two source names may land in one mailbox ("Sent" and "Sent Items").
	for _, b := range im.boxes {
		if b.mb.ID == mb.ID {
			im.boxes[name] = b
			return b, nil
		}
	}
	msgs, err := im.Store.List(ctx, im.Account.ID, mb.ID, nil, store.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", mb.Name, err)
	}
	b := &boxState{mb: mb, existing: map[[32]byte]int{}, seen: map[[32]byte]int{}}
	for _, m := range msgs {
		var id [32]byte
		if n, err := hex.Decode(id[:], []byte(m.BlobID)); err == nil && n == len(id) {
			b.existing[id]++
		}
	}
	im.boxes[name] = b
	if _, ok := im.sum.Folders[mb.Name]; !ok {
		im.sum.Folders[mb.Name] = 0
	}
	return b, nil
}

// resolve maps a source folder name to the account's mailbox: a special
// folder (and what is under it) to the account's mailbox with that special
// use (RFC 6154), whatever its name; anything else by name, created when
// missing (with its parents).
func (im *Importer) resolve(ctx context.Context, name string) (*store.Mailbox, error) {
	first, rest, hasRest := strings.Cut(name, store.Separator)
	if use := SpecialUse(first); use != "" {
		sm, err := store.SpecialMailbox(ctx, im.Store, im.Account.ID, use)
		if err != nil {
			return nil, fmt.Errorf("mailbox for %s: %w", name, err)
		}
		if !hasRest {
			return sm, nil
		}
		name = sm.Name + store.Separator + rest
	}
	n, err := store.NormMailbox(name)
	if err != nil {
		return nil, fmt.Errorf("folder %q: %w", name, err)
	}
	mb, err := im.Store.Mailbox(ctx, im.Account.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		mb, err = im.Store.CreateMailbox(ctx, im.Account.ID, n, "")
		if errors.Is(err, store.ErrExists) { // created meanwhile by a client
			mb, err = im.Store.Mailbox(ctx, im.Account.ID, n)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mailbox %s: %w", n, err)
	}
	return mb, nil
}

// SpecialUse is the special use (RFC 6154) of a top-level folder name as
// other servers and clients name them, "" for an ordinary folder.
func SpecialUse(name string) string {
	switch strings.ToLower(name) {
	case "sent", "sent items", "sent messages", "sent mail", "sent-mail":
		return store.SpecialSent
	case "drafts", "draft":
		return store.SpecialDrafts
	case "trash", "deleted items", "deleted messages", "deleted", "bin":
		return store.SpecialTrash
	case "junk", "spam", "junk e-mail", "junk email", "bulk mail":
		return store.SpecialJunk
	case "archive", "archives":
		return store.SpecialArchive
	}
	return ""
}

// FolderNames lists the summary's mailboxes in name order.
func (s Summary) FolderNames() []string {
	out := make([]string, 0, len(s.Folders))
	for n := range s.Folders {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
