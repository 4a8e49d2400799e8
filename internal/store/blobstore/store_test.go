package blobstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// randomData is incompressible: zstd must fall back to raw blocks.
func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// textData looks like a mail body: words, lines, headers.
func textData(seed uint64, n int) []byte {
	words := strings.Fields("the quick brown fox jumps over lazy dog Subject: Re: meeting " +
		"tomorrow at noon please confirm attachment invoice regards Alice Bob " +
		"Content-Type: text/plain; charset=utf-8 Received: from mx.example.com by")
	r := rand.New(rand.NewPCG(seed, 2))
	var b bytes.Buffer
	col := 0
	for b.Len() < n {
		w := words[r.IntN(len(words))]
		b.WriteString(w)
		col += len(w) + 1
		if col > 70 {
			b.WriteString("\r\n")
			col = 0
		} else {
			b.WriteByte(' ')
		}
	}
	return b.Bytes()[:n]
}

func readAll(t testing.TB, s *Store, id string) []byte {
	t.Helper()
	rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

var roundTripSizes = []int{0, 1, 100, frameSize - 1, frameSize, frameSize + 1, 3*frameSize + 17, 5_000_000}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, n := range roundTripSizes {
		for kind, gen := range map[string]func(uint64, int) []byte{"random": randomData, "text": textData} {
			t.Run(fmt.Sprintf("%s/%d", kind, n), func(t *testing.T) {
				data := gen(uint64(n), n)
				id, err := s.Put(data)
				if err != nil {
					t.Fatal(err)
				}
				if id != hexSum(data) {
					t.Fatalf("id %s, want sha256 %s", id, hexSum(data))
				}
				if !s.Has(id) {
					t.Fatal("Has = false after Put")
				}
				if size, err := s.Size(id); err != nil || size != int64(n) {
					t.Fatalf("Size = %d, %v; want %d", size, err, n)
				}
				if got := readAll(t, s, id); !bytes.Equal(got, data) {
					t.Fatalf("read back %d bytes differing from the %d put", len(got), n)
				}
				// The reader must behave like a well-mannered io.Reader
				// (small reads, reads at EOF, ...).
				rc, err := s.Open(id)
				if err != nil {
					t.Fatal(err)
				}
				if err := iotest.TestReader(rc, data); err != nil {
					t.Error(err)
				}
				rc.Close()
				// WriteTo (used by io.Copy) gives the same bytes.
				rc, _ = s.Open(id)
				var buf bytes.Buffer
				if _, err := io.Copy(&buf, rc); err != nil || !bytes.Equal(buf.Bytes(), data) {
					t.Errorf("io.Copy: %v, equal=%v", err, bytes.Equal(buf.Bytes(), data))
				}
				rc.Close()
			})
		}
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := textData(7, 300_000)
	id, err := s.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.root, id[:2], id))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("blob mode %v, want 0600", fi.Mode().Perm())
	}
	for _, d := range []string{filepath.Join(s.root, id[:2])} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v; want a 0700 directory", d, fi.Mode(), err)
		}
	}
	// Text compresses; random data costs little more than its size.
	if fi.Size() > int64(len(data))/2 {
		t.Errorf("300 KB of text stored in %d bytes", fi.Size())
	}
	rid, _ := s.Put(randomData(1, 300_000))
	rfi, _ := os.Stat(s.path(rid))
	if rfi.Size() > 300_000+300_000/100 {
		t.Errorf("300 KB of random data stored in %d bytes", rfi.Size())
	}
	ents, _ := os.ReadDir(s.leafDir(id))
	if len(ents) != 1 {
		t.Errorf("leaf directory holds %d entries, want just the blob", len(ents))
	}
}

func TestOpenCreatesNestedDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "b", "blobs")
	_, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("%v %v", fi, err)
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := Open(f); err == nil {
		t.Error("Open of a regular file succeeded")
	}
}

func TestDedupe(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := textData(3, 100_000)
	id, err := s.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	p := s.path(id)
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(p)
	id2, err := s.Put(data)
	if err != nil || id2 != id {
		t.Fatalf("second Put = %s, %v", id2, err)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) {
		t.Error("second Put replaced the file")
	}
	// The second Put restarts the grace period instead of rewriting.
	if !after.ModTime().After(old.Add(47 * time.Hour)) {
		t.Errorf("mtime %v not freshened", after.ModTime())
	}
	if !bytes.Equal(readAll(t, s, id), data) {
		t.Error("content changed")
	}
	ents, _ := os.ReadDir(s.leafDir(id))
	if len(ents) != 1 {
		t.Errorf("%d entries in leaf directory", len(ents))
	}
}

func TestConcurrentPut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	shared := textData(99, 200_000)
	const workers = 64
	ids := make([]string, workers)
	datas := make([][]byte, workers)
	var wg sync.WaitGroup
	for i := range workers {
		datas[i] = shared
		if i%2 == 1 {
			datas[i] = textData(uint64(1000+i), 1000+i*1000)
		}
		wg.Go(func() {
			id, err := s.Put(datas[i])
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	// Readers race with the writers too: a blob is either absent or whole.
	for range 8 {
		wg.Go(func() {
			rc, err := s.Open(hexSum(shared))
			if errors.Is(err, ErrNotFound) {
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			defer rc.Close()
			if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, shared) {
				t.Errorf("concurrent read: %v", err)
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		if !bytes.Equal(readAll(t, s, id), datas[i]) {
			t.Errorf("blob %d differs", i)
		}
	}
	var n int
	s.Walk(func(string, time.Time) error { n++; return nil })
	if n != workers/2+1 {
		t.Errorf("Walk found %d blobs, want %d", n, workers/2+1)
	}
	filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if strings.HasSuffix(p, ".tmp") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func TestBadIDs(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	good := hexSum([]byte("x"))
	bad := []string{
		"", "..", "../../../../etc/passwd", good[:63], good + "0",
		strings.ToUpper(good), "g" + good[1:], good[:62] + "/.",
		"ab/cd/" + good[6:], good[:32] + "\x00" + good[33:],
	}
	for _, id := range bad {
		if s.Has(id) {
			t.Errorf("Has(%q) = true", id)
		}
		if _, err := s.Open(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Open(%q): %v", id, err)
		}
		if _, err := s.OpenRange(id, 0, 1); !errors.Is(err, ErrInvalidID) {
			t.Errorf("OpenRange(%q): %v", id, err)
		}
		if _, err := s.Size(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Size(%q): %v", id, err)
		}
		if err := s.Delete(id); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Delete(%q): %v", id, err)
		}
		if _, err := s.Prune(id, time.Now()); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Prune(%q): %v", id, err)
		}
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	id := hexSum([]byte("never stored"))
	if s.Has(id) {
		t.Error("Has = true")
	}
	_, err := s.Open(id)
	if !errors.Is(err, ErrNotFound) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open: %v", err)
	}
	if _, err := s.OpenRange(id, 5, 5); !errors.Is(err, ErrNotFound) {
		t.Errorf("OpenRange: %v", err)
	}
	if _, err := s.Size(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Size: %v", err)
	}
	if err := s.Delete(id); !errors.Is(err, ErrNotFound) {
		t.Errorf("Delete: %v", err)
	}
	if ok, err := s.Prune(id, time.Now()); ok || err != nil {
		t.Errorf("Prune = %v, %v", ok, err)
	}
}

func TestWalkDeletePrune(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var want []string
	for i := range 50 {
		id, err := s.Put(textData(uint64(i), 10*i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.Sort(want)

	// Debris Walk must skip or clean.
	leaf := s.leafDir(want[0])
	stale := filepath.Join(leaf, want[0]+".123.tmp")
	fresh := filepath.Join(leaf, want[0]+".456.tmp")
	for _, p := range []string{stale, fresh, filepath.Join(leaf, "README"), filepath.Join(s.root, "lost+found")} {
		os.WriteFile(p, []byte("junk"), 0o600)
	}
	hour := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, hour, hour)
	misplaced := hexSum([]byte("misplaced"))
	os.WriteFile(filepath.Join(leaf, misplaced), nil, 0o600)
	os.MkdirAll(filepath.Join(s.root, "zz", "00"), 0o700)

	var got []string
	start := time.Now()
	err := s.Walk(func(id string, mt time.Time) error {
		got = append(got, id)
		if mt.After(start) || start.Sub(mt) > time.Minute {
			t.Errorf("%s: modTime %v", id, mt)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Walk listed %d ids, want %d (in order)", len(got), len(want))
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stale temporary file survived Walk")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("Walk removed a fresh temporary file (a Put in progress)")
	}

	// Errors from fn stop the walk.
	stop := errors.New("stop")
	calls := 0
	if err := s.Walk(func(string, time.Time) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("Walk = %v after %d calls", err, calls)
	}

	// Deleting during the walk is allowed.
	if err := s.Walk(func(id string, _ time.Time) error {
		if id == want[1] {
			return s.Delete(id)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s.Has(want[1]) {
		t.Error("deleted blob still there")
	}
	if _, err := s.Open(want[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open of deleted blob: %v", err)
	}
	if err := s.Delete(want[1]); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete: %v", err)
	}

	// Prune removes only blobs older than the cutoff.
	id := want[2]
	if ok, err := s.Prune(id, time.Now().Add(-time.Hour)); ok || err != nil || !s.Has(id) {
		t.Errorf("Prune of a fresh blob = %v, %v", ok, err)
	}
	if ok, err := s.Prune(id, time.Now().Add(time.Minute)); !ok || err != nil || s.Has(id) {
		t.Errorf("Prune of an old blob = %v, %v", ok, err)
	}
}

func TestPutAfterDelete(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := textData(5, 5000)
	id, _ := s.Put(data)
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(data); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, s, id), data) {
		t.Error("content differs after re-Put")
	}
}

// TestPruneVersusPut checks the GC protocol: a blob that Put deduplicated
// against is never left missing, however Prune interleaves.
func TestPruneVersusPut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for i := range 50 {
		data := textData(uint64(i), 3000)
		id, err := s.Put(data)
		if err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Hour)
		os.Chtimes(s.path(id), old, old)
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := s.Put(data); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := s.Prune(id, time.Now().Add(-time.Minute)); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		// Put returned, so the blob must be there: either Prune ran first
		// and Put rewrote it, or Put freshened it and Prune left it alone.
		if !s.Has(id) {
			t.Fatalf("round %d: blob gone after Put returned", i)
		}
	}
}

func TestReaderClose(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	id, _ := s.Put(textData(1, 200_000))
	rc, err := s.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Read(buf); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
	if err := rc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCompressRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{nil, []byte("x"), bytes.Repeat([]byte("mail "), 50000)} {
		c := s.Compress(data)
		got, err := s.Decompress(c, int64(len(data)))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes: %v", len(data), err)
		}
	}
	if _, err := s.Decompress([]byte("not zstd"), 8); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Decompress(garbage) = %v, want ErrCorrupt", err)
	}
}
