package blobstore

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Errors. Test for them with errors.Is.
var (
	// ErrNotFound: no blob with that id. errors.Is(err, fs.ErrNotExist)
	// holds too, for callers that think in files.
	ErrNotFound = fmt.Errorf("blob not found: %w", fs.ErrNotExist)
	// ErrCorrupt: the blob's file is truncated or damaged.
	ErrCorrupt = errors.New("blob corrupt")
	// ErrInvalidID: the id is not 64 lower-case hex digits.
	ErrInvalidID = errors.New("invalid blob id")
)

const (
	// staleTemp is the age after which Walk removes a temporary file. No Put
	// takes an hour, so an older temporary file is left over from a crash.
	staleTemp = time.Hour

	// flushAt is how many compressed bytes Put gathers before writing them,
	// so a large message is written in few system calls without holding its
	// whole compressed form in memory, and a small one in exactly one.
	flushAt = 256 << 10

	// lockStripes is the number of mutexes that serialise Put's freshening
	// of an existing blob against Prune of the same blob. Both hold a stripe
	// for two system calls at most; different blobs rarely share a stripe.
	lockStripes = 256
)

// Store is a directory of blobs. It is safe for concurrent use.
type Store struct {
	root string
	*Codec
	locks [lockStripes]sync.Mutex

	// dirs holds the fan-out directories this process has created or fsynced
	// into their parents, so each costs at most one extra fsync per process
	// lifetime. Mere existence is not enough: a directory created by a
	// concurrent Put may not be durable yet.
	dirs sync.Map // string → struct{}

	outBufs   sync.Pool // *[]byte, Put's compressed output
	tailBufs  sync.Pool // *[]byte of cap tailRead
	compBufs  sync.Pool // *[]byte of cap maxCompressed(frameSize)
	frameBufs sync.Pool // *[]byte of cap frameSize
}

// Open opens the blob store in dir, creating dir (mode 0700) if needed.
func Open(dir string) (*Store, error) {
	if err := mkdirDurable(dir); err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", dir, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("blobstore: open %s: not a directory", dir)
	} else if fi.Mode().Perm()&0o077 != 0 {
		// Messages are private: directories 0700, files 0600 (CreateTemp),
		// whatever made the directory before (issue 13, finding 7).
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("blobstore: make %s private: %w", dir, err)
		}
	}
	c, err := NewCodec()
	if err != nil {
		return nil, err
	}
	s := &Store{root: dir, Codec: c}
	s.outBufs.New = newBuf(flushAt + maxCompressed(frameSize) + 4<<10)
	s.tailBufs.New = newBuf(tailRead)
	s.compBufs.New = newBuf(maxCompressed(frameSize))
	s.frameBufs.New = newBuf(frameSize)
	return s, nil
}

func newBuf(n int) func() any {
	return func() any { b := make([]byte, 0, n); return &b }
}

// Put stores data and returns its id, the hex SHA-256 of data. When Put
// returns nil the blob is durable (see the package comment).
func (s *Store) Put(data []byte) (string, error) {
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	if err := s.PutID(id, data); err != nil {
		return "", err
	}
	return id, nil
}

// PutID is Put for a caller that has already hashed data (store.Ingest
// does, for every message): id must be the hex SHA-256 of data, or the blob
// would be stored under a name that does not address its content. Large
// messages are not hashed twice.
func (s *Store) PutID(id string, data []byte) error {
	if !validID(id) {
		return fmt.Errorf("blobstore: put %q: invalid id", id)
	}
	leaf := s.leafDir(id)
	final := filepath.Join(leaf, id)

	switch ok, err := s.freshen(id, final); {
	case err != nil:
		return fmt.Errorf("blobstore: put %s: %w", id, err)
	case ok:
		// The blob's data was fsynced before it was renamed into place, but
		// its directory entry may still be in flight; see the package comment.
		if err := syncDir(leaf); err != nil {
			return fmt.Errorf("blobstore: put %s: %w", id, err)
		}
		return nil
	}

	if err := s.ensureDir(leaf); err != nil {
		return fmt.Errorf("blobstore: put %s: %w", id, err)
	}
	if err := s.write(leaf, final, id, data); err != nil {
		return fmt.Errorf("blobstore: put %s: %w", id, err)
	}
	return nil
}

// freshen sets the mtime of an existing blob to now, restarting its
// garbage-collection grace period, and reports whether the blob exists.
func (s *Store) freshen(id, final string) (bool, error) {
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	err := os.Chtimes(final, time.Time{}, time.Now())
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// write compresses data into a temporary file in leaf, fsyncs it, renames it
// to final and fsyncs leaf.
func (s *Store) write(leaf, final, id string, data []byte) (err error) {
	f, err := os.CreateTemp(leaf, id+".*.tmp")
	if err != nil {
		return err
	}
	tmp, closed := f.Name(), false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()

	bp := s.outBufs.Get().(*[]byte)
	out := (*bp)[:0]
	defer func() {
		// Keep the buffer only if it did not grow for a huge index, so the
		// pool does not pin memory.
		if cap(out) <= 2*(flushAt+maxCompressed(frameSize)) {
			*bp = out[:0]
			s.outBufs.Put(bp)
		}
	}()
	lens := make([]byte, 0, 4*((len(data)+frameSize-1)/frameSize))
	for off := 0; off < len(data); off += frameSize {
		start := len(out)
		out = s.enc.EncodeAll(data[off:min(off+frameSize, len(data))], out)
		lens = binary.LittleEndian.AppendUint32(lens, uint32(len(out)-start))
		if len(out) >= flushAt {
			if _, err := f.Write(out); err != nil {
				return err
			}
			out = out[:0]
		}
	}
	out = appendTail(out, lens, int64(len(data)), frameSize)
	if _, err := f.Write(out); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	closed = true
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(leaf)
}

// ensureDir creates dir if needed and makes its entry in its parent durable,
// once per process.
func (s *Store) ensureDir(dir string) error {
	if _, ok := s.dirs.Load(dir); ok {
		return nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if err := syncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	s.dirs.Store(dir, struct{}{})
	return nil
}

// mkdirDurable is os.MkdirAll that also fsyncs the parent of every
// directory it creates.
func mkdirDurable(dir string) error {
	dir = filepath.Clean(dir)
	if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirDurable(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

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

// Has reports whether the blob exists. It does not check its contents.
func (s *Store) Has(id string) bool {
	if !validID(id) {
		return false
	}
	fi, err := os.Stat(s.path(id))
	return err == nil && fi.Mode().IsRegular()
}

// Delete removes a blob unconditionally. It is not safe against a concurrent
// Put that deduplicates against the blob; garbage collection uses Prune.
func (s *Store) Delete(id string) error {
	if !validID(id) {
		return fmt.Errorf("blobstore: delete %q: %w", id, ErrInvalidID)
	}
	if err := os.Remove(s.path(id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("blobstore: delete %s: %w", id, ErrNotFound)
		}
		return fmt.Errorf("blobstore: delete %s: %w", id, err)
	}
	return nil
}

// Prune removes the blob if its mtime is before cutoff and reports whether
// it did. A blob that does not exist is not an error. Prune and Put's
// freshening of an existing blob exclude each other, so a blob that a Put has
// just deduplicated against survives (see Garbage collection in the package
// comment).
func (s *Store) Prune(id string, cutoff time.Time) (bool, error) {
	if !validID(id) {
		return false, fmt.Errorf("blobstore: prune %q: %w", id, ErrInvalidID)
	}
	p := s.path(id)
	mu := s.lock(id)
	mu.Lock()
	defer mu.Unlock()
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blobstore: prune %s: %w", id, err)
	}
	if !fi.ModTime().Before(cutoff) {
		return false, nil
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("blobstore: prune %s: %w", id, err)
	}
	return true, nil
}

// Walk calls fn for every blob with its mtime (the later of its creation and
// the last Put that found it present), in id order. It stops at the first
// error fn returns and returns it. fn may Delete or Prune the blob it is given.
// Walk also removes temporary files older than an hour, left by a crash.
// Blobs stored during the walk may or may not be seen.
func (s *Store) Walk(fn func(id string, modTime time.Time) error) error {
	tops, err := os.ReadDir(s.root)
	if err != nil {
		return fmt.Errorf("blobstore: walk: %w", err)
	}
	for _, top := range tops {
		if !top.IsDir() || !isHex(top.Name(), 2) {
			continue
		}
		if err := s.walkLeaf(filepath.Join(s.root, top.Name()), top.Name(), fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) walkLeaf(dir, prefix string, fn func(string, time.Time) error) error {
	ents, err := readDir(dir)
	if err != nil {
		return fmt.Errorf("blobstore: walk: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			if err := removeStale(filepath.Join(dir, name), e); err != nil {
				return fmt.Errorf("blobstore: walk: %w", err)
			}
			continue
		}
		// Ignore anything that is not a blob in its right place: it cannot
		// have come from Put, and guessing is worse than leaving it.
		if !e.Type().IsRegular() || !validID(name) || !strings.HasPrefix(name, prefix) {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return fmt.Errorf("blobstore: walk: %w", err)
		}
		if err := fn(name, fi.ModTime()); err != nil {
			return err
		}
	}
	return nil
}

// readDir is os.ReadDir that treats a missing directory as empty.
func readDir(dir string) ([]os.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

func removeStale(path string, e os.DirEntry) error {
	fi, err := e.Info()
	if errors.Is(err, fs.ErrNotExist) {
		return nil // renamed or removed by its Put meanwhile
	}
	if err != nil {
		return err
	}
	if time.Since(fi.ModTime()) < staleTemp {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Store) leafDir(id string) string { return filepath.Join(s.root, id[0:2]) }
func (s *Store) path(id string) string    { return filepath.Join(s.root, id[0:2], id) }

func (s *Store) lock(id string) *sync.Mutex {
	return &s.locks[unhex(id[62])<<4|unhex(id[63])]
}

// validID reports whether id is 64 lower-case hex digits. Only such ids
// reach the filesystem, so none can contain a separator or "..".
func validID(id string) bool { return isHex(id, sha256.Size*2) }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}
