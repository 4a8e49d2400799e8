// Package backup takes, prunes and restores backups of a SQLite install
// (`gannet backup`, `gannet restore`, the server's scheduled backups): a
// consistent copy of the database plus the message files it references.
// It speaks no SQL and names no backend: the database copy comes from a
// Source that the wiring (internal/app) backs with the store's backend
// (docs/ARCHITECTURE.md, "Backups").
//
// A backup directory holds
//
//	gannet-backup                 marks the directory as a backup (format)
//	blobs/ab/abcd…                message files, shared by every snapshot
//	snapshots/20261207T191800Z/   one per backup:
//	    gannet.db                 the database copy (self-contained)
//	    blobs.txt                 the ids of the message files it needs
//	    manifest.json             written last: the snapshot is complete
//
// Message files are named by the SHA-256 of their content and never change
// once written (internal/store/blobstore), so a later backup into the same
// directory copies only the files it does not have yet; files that no kept
// snapshot needs are removed at the end.
package backup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"
)

// Format is the version of the backup directory's layout and manifest.
const Format = 1

// marker is the file that says a directory is a Gannet backup.
const marker = "gannet-backup"

// nameLayout names snapshots by their start time (UTC), so names sort by age.
const nameLayout = "20060102T150405Z"

// Database describes a database copy written by a Source.
type Database struct {
	// Blobs counts the message files the copy references.
	Blobs int64
	// Accounts, Mailboxes, Messages count the copy's rows; MessageBytes
	// sums the messages' sizes; Bytes is the size of the database file.
	Accounts, Mailboxes, Messages, MessageBytes, Bytes int64
}

// Source is the install being backed up.
type Source interface {
	// CopyDatabase writes a consistent copy of the database to path (which
	// does not exist yet), fsynced, calls blob with the id of every message
	// file the copy references, in ascending order, and says what the copy
	// holds. Every write committed before the call must be in it.
	CopyDatabase(ctx context.Context, path string, blob func(id string) error) (Database, error)
	// BlobDir is the directory of the install's message files (layout
	// ab/abcd…, internal/store/blobstore).
	BlobDir() string
}

// Options tune Run. The zero value keeps one snapshot.
type Options struct {
	// Keep is how many snapshots to keep, this one included (0 means 1).
	Keep int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives progress lines; nil discards them.
	Log *slog.Logger
}

// Manifest describes a complete snapshot; it is snapshots/NAME/manifest.json.
type Manifest struct {
	Format   int       `json:"format"`
	Name     string    `json:"name"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// What the database copy holds.
	Accounts      int64 `json:"accounts"`
	Mailboxes     int64 `json:"mailboxes"`
	Messages      int64 `json:"messages"`
	MessageBytes  int64 `json:"message_bytes"`
	DatabaseBytes int64 `json:"database_bytes"`
	// Blobs is how many message files the snapshot needs and BlobBytes
	// their size on disk (compressed); Copied and CopiedBytes are the ones
	// this backup had to copy (the others were there from earlier ones).
	Blobs       int64 `json:"blobs"`
	BlobBytes   int64 `json:"blob_bytes"`
	Copied      int64 `json:"copied_blobs"`
	CopiedBytes int64 `json:"copied_bytes"`
}

// Size is the snapshot's size on disk: its database and its message files.
func (m Manifest) Size() int64 { return m.DatabaseBytes + m.BlobBytes }

// errBlobGone: a file the database copy references was gone from the
// install (collected after the copy was taken): take the copy again.
var errBlobGone = errors.New("message file removed during the backup")

// attempts bounds how often Run takes the database copy again after
// errBlobGone. Collection runs hourly, so a second copy normally succeeds.
const attempts = 3

// copiers is how many message files are copied at once: enough to keep a
// disk busy with fsyncs, few enough not to starve a live server.
const copiers = 4

// Run takes a backup of src into dir (created if needed): a new snapshot,
// then the older ones beyond opts.Keep and the message files no kept
// snapshot needs are removed. Only one Run at a time may use a directory.
func Run(ctx context.Context, src Source, dir string, opts Options) (Manifest, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Keep < 1 {
		opts.Keep = 1
	}
	unlock, err := prepare(dir)
	if err != nil {
		return Manifest{}, err
	}
	defer unlock()
	var m Manifest
	for i := 1; ; i++ {
		m, err = snapshot(ctx, src, dir, opts)
		if !errors.Is(err, errBlobGone) || i == attempts {
			break
		}
		opts.Log.Info("backup: a message file was collected during the backup; taking the database copy again", "err", err)
	}
	if err != nil {
		return Manifest{}, err
	}
	if err := prune(dir, m.Name, opts.Keep, opts.Log); err != nil {
		return m, fmt.Errorf("backup: taken (%s), but pruning failed: %w", m.Name, err)
	}
	return m, nil
}

// prepare creates dir (or checks that it is a backup directory, or empty)
// and locks it.
func prepare(dir string) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); errors.Is(err, os.ErrNotExist) {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		if len(ents) > 0 {
			return nil, fmt.Errorf("backup: %s is neither empty nor a Gannet backup directory: give a directory of its own", dir)
		}
		if err := writeFileSync(filepath.Join(dir, marker), []byte(fmt.Sprintf("Gannet backup directory, format %d\n", Format))); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	for _, d := range []string{"blobs", "snapshots"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("backup: another backup is running into %s", dir)
	}
	return func() { lf.Close() }, nil // closing releases the lock
}

// snapshot writes one snapshot: the database copy, the message files it
// needs, its blob list and, last, its manifest.
func snapshot(ctx context.Context, src Source, dir string, opts Options) (Manifest, error) {
	started := opts.Now().UTC()
	m := Manifest{Format: Format, Started: started}
	name := started.Format(nameLayout)
	for i := 2; ; i++ {
		if _, err := os.Lstat(filepath.Join(dir, "snapshots", name)); errors.Is(err, os.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s-%d", started.Format(nameLayout), i)
	}
	m.Name = name
	snap := filepath.Join(dir, "snapshots", name)
	if err := os.Mkdir(snap, 0o700); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(snap)
		}
	}()
	// The blob list goes to a file as the copy names the ids (sorted, one
	// per line), then the files are copied from that list: memory stays
	// bounded however many files there are.
	list, err := os.OpenFile(filepath.Join(snap, "blobs.txt"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	defer list.Close()
	lw := bufio.NewWriter(list)
	db, err := src.CopyDatabase(ctx, filepath.Join(snap, "gannet.db"), func(id string) error {
		if !validID(id) {
			return fmt.Errorf("invalid message file id %q in the database", id)
		}
		_, err := lw.WriteString(id + "\n")
		return err
	})
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := lw.Flush(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := list.Sync(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := list.Close(); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	m.Accounts, m.Mailboxes, m.Messages, m.MessageBytes, m.DatabaseBytes = db.Accounts, db.Mailboxes, db.Messages, db.MessageBytes, db.Bytes
	m.Blobs = db.Blobs
	opts.Log.Info("backup: database copied", "snapshot", name, "messages", m.Messages, "files", m.Blobs)
	if err := copyBlobs(ctx, src.BlobDir(), filepath.Join(dir, "blobs"), snap, &m); err != nil {
		return m, err
	}
	m.Finished = opts.Now().UTC()
	js, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	// The snapshot's files are on disk (fsynced, and the directory below):
	// only now is the manifest written, atomically (temporary file, fsync,
	// rename, fsync of the directory), and the snapshot is complete.
	if err := syncDir(snap); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	tmp := filepath.Join(snap, "manifest.json.tmp")
	if err := writeFileSync(tmp, append(js, '\n')); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(snap, "manifest.json")); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(snap); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := syncDir(filepath.Join(dir, "snapshots")); err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	ok = true
	return m, nil
}

// copyBlobs copies the files of snap's blob list from src to dst that dst
// does not have yet (or has with another size: never after a clean run,
// since copies are renamed into place), a few at a time, then fsyncs the
// leaf directories.
func copyBlobs(ctx context.Context, src, dst, snap string, m *Manifest) error {
	var (
		mu       sync.Mutex
		firstErr error
		leaves   = map[string]bool{}
	)
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range copiers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				size, copied, err := copyBlob(src, dst, id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				m.BlobBytes += size
				if copied {
					m.Copied++
					m.CopiedBytes += size
					leaves[id[:2]] = true
				}
				mu.Unlock()
			}
		}()
	}
	listErr := eachBlob(snap, func(id string) error {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			return errStop
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		jobs <- id
		return nil
	})
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if listErr != nil && listErr != errStop {
		return fmt.Errorf("backup: %w", listErr)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	for leaf := range leaves {
		if err := syncDir(filepath.Join(dst, leaf)); err != nil {
			return fmt.Errorf("backup: %w", err)
		}
	}
	if err := syncDir(dst); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// copyBlob copies one message file unless dst has it.
func copyBlob(src, dst, id string) (size int64, copied bool, err error) {
	if !validID(id) {
		return 0, false, fmt.Errorf("backup: invalid message file id %q in the database", id)
	}
	from := filepath.Join(src, id[:2], id)
	to := filepath.Join(dst, id[:2], id)
	fi, err := os.Stat(from)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, fmt.Errorf("backup: %s: %w", from, errBlobGone)
	}
	if err != nil {
		return 0, false, fmt.Errorf("backup: %w", err)
	}
	if have, err := os.Stat(to); err == nil && have.Size() == fi.Size() {
		return fi.Size(), false, nil
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return 0, false, fmt.Errorf("backup: %w", err)
	}
	n, err := copyFile(from, to)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, fmt.Errorf("backup: %s: %w", from, errBlobGone)
	}
	return n, err == nil, err
}

// copyFile copies from to a temporary file beside to, fsyncs it and renames
// it into place; the caller fsyncs the directory.
func copyFile(from, to string) (int64, error) {
	in, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.CreateTemp(filepath.Dir(to), filepath.Base(to)+".*.tmp")
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", from, err)
	}
	n, err := io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(out.Name(), to)
	}
	if err != nil {
		os.Remove(out.Name())
		return 0, fmt.Errorf("copy %s: %w", from, err)
	}
	return n, nil
}

// Snapshots lists the complete snapshots of a backup directory, oldest first.
func Snapshots(dir string) ([]Manifest, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("backup: %s is not a Gannet backup directory: %w", dir, err)
	}
	var out []Manifest
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		m, err := readManifest(filepath.Join(dir, "snapshots", e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // incomplete
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func readManifest(snap string) (Manifest, error) {
	var m Manifest
	b, err := os.ReadFile(filepath.Join(snap, "manifest.json"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("backup: %s: damaged manifest: %w", snap, err)
	}
	if m.Format != Format {
		return m, fmt.Errorf("backup: %s: format %d, this build reads %d", snap, m.Format, Format)
	}
	if m.Name != filepath.Base(snap) {
		return m, fmt.Errorf("backup: %s: the manifest names snapshot %q", snap, m.Name)
	}
	return m, nil
}

// errStop ends an eachBlob early without an error of its own.
var errStop = errors.New("stop")

// eachBlob calls fn with every id of a snapshot's blob list, in order.
func eachBlob(snap string, fn func(id string) error) error {
	l, err := openList(snap)
	if err != nil {
		return err
	}
	defer l.close()
	for l.next() {
		if err := fn(l.id); err != nil {
			return err
		}
	}
	return l.err
}

// list reads a snapshot's blobs.txt: ids, one per line, strictly ascending
// (checked: prune's merge relies on it).
type list struct {
	f    *os.File
	sc   *bufio.Scanner
	snap string
	id   string // the current id
	err  error
}

func openList(snap string) (*list, error) {
	f, err := os.Open(filepath.Join(snap, "blobs.txt"))
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return &list{f: f, sc: bufio.NewScanner(f), snap: snap}, nil
}

// next moves to the next id; false at the end or on an error (l.err).
func (l *list) next() bool {
	if l.err != nil {
		return false
	}
	if !l.sc.Scan() {
		if err := l.sc.Err(); err != nil {
			l.err = fmt.Errorf("backup: %s: %w", l.snap, err)
		}
		return false
	}
	id := l.sc.Text()
	if !validID(id) || id <= l.id {
		l.err = fmt.Errorf("backup: %s: damaged blob list at %q", l.snap, id)
		return false
	}
	l.id = id
	return true
}

func (l *list) close() { l.f.Close() }

// prune removes snapshots beyond the newest keep (and incomplete ones other
// than current), then the message files no remaining snapshot needs.
func prune(dir, current string, keep int, log *slog.Logger) error {
	snaps, err := Snapshots(dir)
	if err != nil {
		return err
	}
	kept := map[string]bool{}
	for i, m := range snaps {
		if i >= len(snaps)-keep {
			kept[m.Name] = true
		}
	}
	kept[current] = true
	ents, err := os.ReadDir(filepath.Join(dir, "snapshots"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if kept[e.Name()] {
			continue
		}
		p := filepath.Join(dir, "snapshots", e.Name())
		// The manifest goes first: a snapshot half removed is incomplete,
		// never taken for a whole one.
		if err := os.Remove(filepath.Join(p, "manifest.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
		log.Info("backup: removed old snapshot", "snapshot", e.Name())
	}
	// Which files are needed: the kept snapshots' lists are sorted, and so
	// is the walk of blobs/ (leaf directories and their files in name
	// order, a leaf being its files' first two digits): one merge, memory
	// bounded by the number of snapshots.
	var lists []*list
	defer func() {
		for _, l := range lists {
			l.close()
		}
	}()
	for name := range kept {
		l, err := openList(filepath.Join(dir, "snapshots", name))
		if err != nil {
			return err
		}
		lists = append(lists, l)
		l.next()
		if l.err != nil {
			return l.err
		}
	}
	needed := func(id string) (bool, error) {
		found := false
		for _, l := range lists {
			for l.id != "" && l.id < id && l.next() {
			}
			if l.err != nil {
				return false, l.err
			}
			found = found || l.id == id
		}
		return found, nil
	}
	blobs := filepath.Join(dir, "blobs")
	leaves, err := os.ReadDir(blobs)
	if err != nil {
		return err
	}
	removed := 0
	for _, l := range leaves {
		if !l.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(blobs, l.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			// A file in the wrong leaf is of no use to a restore (and would
			// break the merge's order): it goes too.
			if validID(f.Name()) && f.Name()[:2] == l.Name() {
				need, err := needed(f.Name())
				if err != nil {
					return err
				}
				if need {
					continue
				}
			}
			if err := os.Remove(filepath.Join(blobs, l.Name(), f.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			removed++
		}
	}
	if removed > 0 {
		log.Info("backup: removed message files no snapshot needs", "files", removed)
	}
	return nil
}

// validID reports whether id is a blob id: 64 lower-case hex digits, so it
// can name no file outside the blob directory.
func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// writeFileSync writes a new file (0600) and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory, making the entries created in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
