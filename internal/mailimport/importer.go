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
	"sync"
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
	// Workers is how many appends run at once (0 = 1); see Import.
	Workers int
	// Batch is how many messages one transaction stores at most (0 =
	// batchMessages); see takeBatch.
	Batch int
	// Progress, when set, is called after every message read, with the
	// importer's lock held: it must not keep the Summary's maps.
	Progress func(Summary)

	mu    sync.Mutex // guards sum
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

// Summary returns what the importer did; call it after Import returns.
func (im *Importer) Summary() Summary {
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.sum
}

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
//
// The source is read, and duplicates decided, in one goroutine, in source
// order; Workers goroutines append. With one worker the UIDs follow the
// source's order; with more, appends overlap and the store's group commit
// shares their fsyncs, and messages within a window of Workers may take
// their UIDs out of order (their internal dates stay as in the source).
func (im *Importer) Import(ctx context.Context, src Source) error {
	im.init()
	if lf, ok := src.(interface{ Folders() []string }); ok && im.Target == "" {
		for _, name := range lf.Folders() {
			if _, err := im.box(ctx, name); err != nil {
				return err
			}
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Unbuffered: what is read but not stored is at most the batch being
	// gathered plus the message in hand, so memory stays bounded by
	// batchBytes and the largest message, however large the source.
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range max(im.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var next *job
			for {
				batch, more := takeBatch(jobs, next, im.Batch)
				if len(batch) == 0 {
					return
				}
				next = more
				if err := im.appendBatch(ctx, batch); err != nil {
					cancel(err)
				}
			}
		}()
	}
	err := im.read(ctx, src, jobs)
	close(jobs)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause // a worker's store error, not the caller's cancellation
	}
	return err
}

// job is one message to append.
type job struct {
	msg *Message
	b   *boxState
}

// read feeds src's messages to the workers.
func (im *Importer) read(ctx context.Context, src Source, jobs chan<- job) error {
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
			im.mu.Lock()
			im.skipped(skip)
			im.mu.Unlock()
			continue
		case err != nil:
			return err
		}
		j, ok, err := im.decide(ctx, msg)
		if err != nil {
			return err
		}
		if ok {
			select {
			case jobs <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if im.Progress != nil {
			im.mu.Lock()
			im.Progress(im.sum)
			im.mu.Unlock()
		}
	}
}

// skipped records a skip; im.mu is held.
func (im *Importer) skipped(s *SkipError) {
	im.sum.Skipped[s.Reason]++
	if s.Reason != ReasonImported && len(im.sum.Reports) < MaxReports {
		im.sum.Reports = append(im.sum.Reports, s)
	}
}

// decide finds msg's mailbox and whether it is imported (resume and
// duplicates, see Importer).
func (im *Importer) decide(ctx context.Context, msg *Message) (job, bool, error) {
	name := msg.Mailbox
	if im.Target != "" {
		name = im.Target
	}
	b, err := im.box(ctx, name)
	if err != nil {
		return job{}, false, err
	}
	sum := sha256.Sum256(msg.Raw)
	b.seen[sum]++
	var skip *SkipError
	switch {
	case b.seen[sum] <= b.existing[sum]:
		skip = &SkipError{Pos: msg.Pos, Reason: ReasonImported}
	case im.SkipDuplicates && b.seen[sum] > 1:
		skip = &SkipError{Pos: msg.Pos, Reason: ReasonDuplicate, Detail: "the same message is in " + b.mb.Name}
	}
	if skip != nil {
		im.mu.Lock()
		im.skipped(skip)
		im.mu.Unlock()
		return job{}, false, nil
	}
	return job{msg: msg, b: b}, true, nil
}

// Batches: consecutive messages for one mailbox are appended together
// (store.AppendMany: one transaction, one commit), so an import costs a
// commit per batch, not per message, and UIDs still follow the source.
const (
	batchMessages = 256
	batchBytes    = 4 << 20
	// batchWait is how long a batch waits for the reader's next message
	// (parsing one takes microseconds; a longer pause means the source is
	// slow, a remote IMAP server say, and the batch goes as it is).
	batchWait = 5 * time.Millisecond
)

// takeBatch waits for a first job (first, when the last batch left one
// over), then takes the reader's next ones for the same mailbox while they
// come within batchWait of each other, up to the batch limits. It returns the batch and a job for another mailbox
// taken meanwhile, if any; an empty batch when jobs is closed and drained.
func takeBatch(jobs <-chan job, first *job, limit int) ([]job, *job) {
	if limit <= 0 {
		limit = batchMessages
	}
	var batch []job
	if first != nil {
		batch = append(batch, *first)
	} else {
		j, ok := <-jobs
		if !ok {
			return nil, nil
		}
		batch = append(batch, j)
	}
	size := len(batch[0].msg.Raw)
	wait := time.NewTimer(batchWait)
	defer wait.Stop()
	for len(batch) < limit && size < batchBytes {
		select {
		case j, ok := <-jobs:
			if !ok {
				return batch, nil
			}
			if j.b != batch[0].b {
				return batch, &j
			}
			batch = append(batch, j)
			size += len(j.msg.Raw)
			wait.Reset(batchWait)
		case <-wait.C:
			return batch, nil
		}
	}
	return batch, nil
}

// appendBatch stores a batch for one mailbox, all or none.
func (im *Importer) appendBatch(ctx context.Context, batch []job) error {
	b := batch[0].b
	if len(batch) == 1 {
		j := batch[0]
		if _, err := im.Store.Append(ctx, im.Account.ID, b.mb.ID, j.msg.Raw, j.msg.Flags, j.msg.Date); err != nil {
			return fmt.Errorf("import %s into %s: %w", j.msg.Pos, b.mb.Name, err)
		}
	} else {
		msgs := make([]store.AppendMessage, len(batch))
		for i, j := range batch {
			msgs[i] = store.AppendMessage{Raw: j.msg.Raw, Flags: j.msg.Flags, Date: j.msg.Date}
		}
		_, _, err := im.Store.AppendMany(ctx, im.Account.ID, b.mb.ID, msgs)
		if errors.Is(err, store.ErrOverQuota) {
			// The batch as a whole does not fit: store what does, one by
			// one, and stop at the first refusal.
			for i, j := range batch {
				if _, err := im.Store.Append(ctx, im.Account.ID, b.mb.ID, j.msg.Raw, j.msg.Flags, j.msg.Date); err != nil {
					im.counted(batch[:i])
					return fmt.Errorf("import %s into %s: %w", j.msg.Pos, b.mb.Name, err)
				}
			}
		} else if err != nil {
			return fmt.Errorf("import %s to %s into %s: %w", batch[0].msg.Pos, batch[len(batch)-1].msg.Pos, b.mb.Name, err)
		}
	}
	im.counted(batch)
	return nil
}

// counted adds stored messages to the summary.
func (im *Importer) counted(batch []job) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, j := range batch {
		im.sum.Messages++
		im.sum.Bytes += int64(len(j.msg.Raw))
		im.sum.Folders[j.b.mb.Name]++
	}
}

// listChunk is how many UIDs one List covers when an import counts what a
// mailbox holds.
const listChunk = 10000

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
	b := &boxState{mb: mb, existing: map[[32]byte]int{}, seen: map[[32]byte]int{}}
	// In UID ranges, so that a large mailbox is never listed at once.
	for lo := uint64(1); lo < uint64(mb.UIDNext); lo += listChunk {
		hi := min(lo+listChunk-1, uint64(mb.UIDNext)-1)
		msgs, err := im.Store.List(ctx, im.Account.ID, mb.ID, store.UIDSet{{Lo: uint32(lo), Hi: uint32(hi)}}, store.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", mb.Name, err)
		}
		for _, m := range msgs {
			var id [32]byte
			if n, err := hex.Decode(id[:], []byte(m.BlobID)); err == nil && n == len(id) {
				b.existing[id]++
			}
		}
	}
	im.boxes[name] = b
	im.mu.Lock()
	if _, ok := im.sum.Folders[mb.Name]; !ok {
		im.sum.Folders[mb.Name] = 0
	}
	im.mu.Unlock()
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
	n, err := store.NormMailbox(cleanName(name))
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

// cleanName makes a folder name another program wrote into a valid store
// name (store.NormMailbox): control characters and invalid UTF-8 become
// "_", empty levels go, and a name left empty is INBOX. A folder is never
// lost to its name.
func cleanName(name string) string {
	name = strings.ToValidUTF8(name, "_")
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	var parts []string
	for _, p := range strings.Split(name, store.Separator) {
		if p != "" {
			parts = append(parts, p)
		}
	}
	name = strings.Join(parts, store.Separator)
	if len(name) > 1000 {
		name = strings.ToValidUTF8(name[:1000], "")
		name = strings.TrimSuffix(name, store.Separator)
	}
	if name == "" {
		return "INBOX"
	}
	return name
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
