package blobstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// readRange reads [off, off+n) of id, returning the error from Open or Read.
func readRange(s *Store, id string, off, n int64) ([]byte, error) {
	rc, err := s.OpenRange(id, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestOpenRange(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one", []byte("x")},
		{"frame-1", textData(1, frameSize-1)},
		{"frame", randomData(2, frameSize)},
		{"frame+1", textData(3, frameSize+1)},
		{"text5M", textData(4, 5_000_000)},
		{"random1M", randomData(5, 1_000_000)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id, err := s.Put(c.data)
			if err != nil {
				t.Fatal(err)
			}
			size := int64(len(c.data))
			check := func(off, n int64) {
				t.Helper()
				got, err := readRange(s, id, off, n)
				if err != nil {
					t.Fatalf("OpenRange(%d, %d): %v", off, n, err)
				}
				lo, hi := min(off, size), min(off+n, size)
				if n > math.MaxInt64-off {
					hi = size
				}
				if !bytes.Equal(got, c.data[lo:hi]) {
					t.Fatalf("OpenRange(%d, %d) on %d bytes: got %d bytes, want %d", off, n, size, len(got), hi-lo)
				}
			}
			// Edges: frame boundaries, the end, beyond it, huge lengths.
			for _, off := range []int64{0, 1, frameSize - 1, frameSize, frameSize + 1, 2 * frameSize, size - 1, size, size + 1, 1 << 40} {
				if off < 0 {
					continue
				}
				for _, n := range []int64{0, 1, 2, frameSize - 1, frameSize, frameSize + 1, size, math.MaxInt64} {
					check(off, n)
				}
			}
			// Random ranges, lengths log-uniform so both IMAP partials and
			// near-whole reads occur without decoding 5 MB hundreds of times.
			r := rand.New(rand.NewPCG(uint64(size), 9))
			for range 200 {
				off := r.Int64N(size + size/10 + 2)
				n := int64(math.Exp(r.Float64() * math.Log(float64(size+frameSize))))
				check(off, n)
			}
		})
	}
	id, _ := s.Put([]byte("hello"))
	for _, r := range [][2]int64{{-1, 1}, {0, -1}, {math.MinInt64, 0}} {
		if _, err := s.OpenRange(id, r[0], r[1]); err == nil {
			t.Errorf("OpenRange(%d, %d) succeeded", r[0], r[1])
		}
	}
}

// TestOpenRangeDecodesOnlyCoveringFrames corrupts every frame but one and
// reads inside that one: if OpenRange touched another frame it would fail.
func TestOpenRangeDecodesOnlyCoveringFrames(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	data := textData(8, 10*frameSize+123)
	id, _ := s.Put(data)
	raw, _ := os.ReadFile(s.path(id))
	f, _ := os.Open(s.path(id))
	ix, _, _, tb, err := s.loadIndex(f)
	s.tailBufs.Put(tb)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	const keep = 6
	for i := range ix.frames() {
		if i != keep {
			for j := ix.offs[i]; j < ix.offs[i+1]; j++ {
				raw[j] = 0xff
			}
		}
	}
	os.WriteFile(s.path(id), raw, 0o600)
	got, err := readRange(s, id, keep*frameSize+100, 4096)
	if err != nil || !bytes.Equal(got, data[keep*frameSize+100:keep*frameSize+100+4096]) {
		t.Fatalf("range inside the intact frame: %v", err)
	}
	if _, err := readRange(s, id, keep*frameSize-1, 2); !errors.Is(err, ErrCorrupt) {
		t.Errorf("range touching a corrupt frame: %v", err)
	}
}

// checkDamaged reads a damaged blob every way there is. Each read must fail
// with ErrCorrupt or (for damage that does not matter) give the original
// bytes; never a panic, never other bytes.
func checkDamaged(t *testing.T, s *Store, id string, want []byte, mustFail bool, what string) {
	t.Helper()
	got, err := readRange(s, id, 0, math.MaxInt64)
	switch {
	case err == nil && (mustFail || !bytes.Equal(got, want)):
		t.Fatalf("%s: read %d bytes without error (want %d)", what, len(got), len(want))
	case err != nil && !errors.Is(err, ErrCorrupt):
		t.Fatalf("%s: error is not ErrCorrupt: %v", what, err)
	}
	if size, err := s.Size(id); err == nil && size != int64(len(want)) {
		t.Fatalf("%s: Size = %d without error, want %d", what, size, len(want))
	}
	if len(want) > 10 {
		mid := int64(len(want) / 2)
		got, err := readRange(s, id, mid, 10)
		if err == nil && !bytes.Equal(got, want[mid:mid+10]) {
			t.Fatalf("%s: range read wrong bytes without error", what)
		}
	}
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"small", textData(1, 1000)},            // one frame, served from the tail read
		{"multi", textData(2, 3*frameSize+500)}, // several frames
		{"large", textData(3, 200_000)},         // frames outside the tail read
		{"random", randomData(4, frameSize+77)}, // raw zstd blocks
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			id, err := s.Put(c.data)
			if err != nil {
				t.Fatal(err)
			}
			p := s.path(id)
			orig, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			write := func(b []byte) {
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}

			// Truncation anywhere is always detected: the trailer moves.
			r := rand.New(rand.NewPCG(uint64(len(orig)), 3))
			cuts := []int{0, 1, trailerSize - 1, trailerSize, trailerSize + 1, len(orig) / 2,
				len(orig) - trailerSize - 1, len(orig) - trailerSize, len(orig) - 1}
			for range 20 {
				cuts = append(cuts, r.IntN(len(orig)))
			}
			for _, n := range cuts {
				if n < 0 || n >= len(orig) {
					continue
				}
				write(orig[:n])
				checkDamaged(t, s, id, c.data, true, fmt.Sprintf("truncated to %d of %d", n, len(orig)))
			}
			// So is anything appended.
			write(append(bytes.Clone(orig), 0))
			checkDamaged(t, s, id, c.data, true, "one byte appended")
			write(append(bytes.Clone(orig), orig...))
			checkDamaged(t, s, id, c.data, true, "file doubled")

			// Flipped bits: every byte of small files and of every tail,
			// a sample elsewhere.
			var pos []int
			for i := range len(orig) {
				if len(orig) < 2000 || i < 64 || i >= len(orig)-512 {
					pos = append(pos, i)
				}
			}
			for range 100 {
				pos = append(pos, r.IntN(len(orig)))
			}
			for _, i := range pos {
				b := bytes.Clone(orig)
				b[i] ^= 1 << r.IntN(8)
				write(b)
				// In the index and trailer every bit counts (CRC, magic,
				// reserved); inside a zstd frame some header bits may not.
				mustFail := i >= len(orig)-trailerSize-4*((len(c.data)+frameSize-1)/frameSize)
				checkDamaged(t, s, id, c.data, mustFail, fmt.Sprintf("bit flipped at %d of %d", i, len(orig)))
			}

			write(orig)
			if got := readAll(t, s, id); !bytes.Equal(got, c.data) {
				t.Fatal("restored file does not read back")
			}
		})
	}
}

// FuzzOpen feeds arbitrary bytes to the reader as a blob file. Whatever the
// file holds, reading must not panic, and a read that succeeds must return
// exactly Size bytes.
func FuzzOpen(f *testing.F) {
	seed, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range [][]byte{nil, []byte("hello"), textData(1, 2000), textData(2, frameSize+10), randomData(3, 300)} {
		id, err := seed.Put(d)
		if err != nil {
			f.Fatal(err)
		}
		raw, _ := os.ReadFile(seed.path(id))
		f.Add(raw, int64(0), int64(-1))
		f.Add(raw, int64(len(d)/2), int64(7))
	}

	s, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	id := hexSum([]byte("fuzz"))
	if err := os.MkdirAll(s.leafDir(id), 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte, off, n int64) {
		// Fuzz workers run in parallel processes, each with its own s.
		if err := os.WriteFile(s.path(id), raw, 0o600); err != nil {
			t.Fatal(err)
		}
		size, sizeErr := s.Size(id)
		got, err := readRange(s, id, 0, math.MaxInt64)
		if err == nil && (sizeErr != nil || int64(len(got)) != size) {
			t.Fatalf("read %d bytes, Size = %d, %v", len(got), size, sizeErr)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error is not ErrCorrupt: %v", err)
		}
		if off < 0 || n < 0 {
			return
		}
		part, err := readRange(s, id, off, n)
		if err == nil && sizeErr == nil && int64(len(part)) > size {
			t.Fatalf("range read %d bytes of a %d-byte blob", len(part), size)
		}
	})
}

// TestIndexOutsideTail covers blobs whose index does not fit in the first
// tail read (above ~250 MB in production) by shrinking the tail buffer.
func TestIndexOutsideTail(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, d := range [][]byte{nil, textData(1, 10), textData(2, 5*frameSize+3)} {
		id, err := s.Put(d)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(s.path(id))
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		for _, c := range []int{trailerSize, trailerSize + 4, 100, int(fi.Size())} {
			ix, tail, tailOff, err := readIndex(f, fi.Size(), make([]byte, 0, c))
			if err != nil {
				t.Fatalf("tail buffer of %d: %v", c, err)
			}
			if ix.size != int64(len(d)) || tailOff+int64(len(tail)) != fi.Size() {
				t.Fatalf("tail buffer of %d: size %d, tail [%d, +%d)", c, ix.size, tailOff, len(tail))
			}
		}
		f.Close()
	}
}
