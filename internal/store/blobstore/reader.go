package blobstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
)

// Open returns the whole blob. The reader decodes one 64 KiB frame at a time,
// so a 50 MB message never sits in memory at once. Close it.
func (s *Store) Open(id string) (io.ReadCloser, error) {
	return s.open(id, 0, -1)
}

// OpenRange returns bytes [off, off+n) of the blob, clamped to its size (a
// range starting at or beyond the end is empty). It reads and decodes only the
// frames covering the range. off and n must not be negative.
func (s *Store) OpenRange(id string, off, n int64) (io.ReadCloser, error) {
	if off < 0 || n < 0 {
		return nil, fmt.Errorf("blobstore: open %s: negative range (%d, %d)", id, off, n)
	}
	return s.open(id, off, n)
}

// Size returns the uncompressed size of the blob.
func (s *Store) Size(id string) (int64, error) {
	f, err := s.openFile(id)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	ix, _, _, tb, err := s.loadIndex(f)
	s.tailBufs.Put(tb)
	if err != nil {
		return 0, fmt.Errorf("blobstore: size %s: %w", id, err)
	}
	return ix.size, nil
}

func (s *Store) openFile(id string) (*os.File, error) {
	if !validID(id) {
		return nil, fmt.Errorf("blobstore: open %q: %w", id, ErrInvalidID)
	}
	f, err := os.Open(s.path(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blobstore: open %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blobstore: open %s: %w", id, err)
	}
	return f, nil
}

// loadIndex reads f's index using a pooled tail buffer, which it returns for
// the caller to put back once done with tail.
func (s *Store) loadIndex(f *os.File) (ix index, tail []byte, tailOff int64, tb *[]byte, err error) {
	tb = s.tailBufs.Get().(*[]byte)
	fi, err := f.Stat()
	if err != nil {
		return index{}, nil, 0, tb, err
	}
	ix, tail, tailOff, err = readIndex(f, fi.Size(), (*tb)[:0:tailRead])
	return ix, tail, tailOff, tb, err
}

// open returns bytes [off, off+n) of the blob; n < 0 means to the end.
func (s *Store) open(id string, off, n int64) (io.ReadCloser, error) {
	f, err := s.openFile(id)
	if err != nil {
		return nil, err
	}
	ix, tail, tailOff, tb, err := s.loadIndex(f)
	if err != nil {
		f.Close()
		s.tailBufs.Put(tb)
		return nil, fmt.Errorf("blobstore: open %s: %w", id, err)
	}
	if off >= ix.size {
		n = 0
	} else if n < 0 || n > ix.size-off {
		n = ix.size - off
	}
	if n == 0 {
		f.Close()
		s.tailBufs.Put(tb)
		return io.NopCloser(eofReader{}), nil
	}
	return &reader{
		s: s, f: f, id: id, ix: ix,
		tb: tb, tail: tail, tailOff: tailOff,
		next: int(off / ix.frameSize), skip: off % ix.frameSize, remain: n,
	}, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// reader streams a range of a blob frame by frame. It is not safe for
// concurrent use.
type reader struct {
	s  *Store
	f  *os.File
	id string
	ix index

	tb      *[]byte // pooled buffer holding tail
	tail    []byte  // the file's last bytes, from readIndex
	tailOff int64   // file offset of tail[0]
	cb      *[]byte // pooled compressed-frame buffer, taken on first need
	db      *[]byte // pooled decoded-frame buffer, taken on first need

	cur    []byte // decoded bytes not yet returned
	next   int    // next frame to decode
	skip   int64  // bytes to drop from the start of frame next (first frame only)
	remain int64  // bytes of the range not yet decoded into cur
	err    error  // sticky
}

func (r *reader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.remain == 0 {
			return 0, io.EOF
		}
		r.err = r.fill()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// WriteTo lets io.Copy write decoded frames straight from our buffer, saving
// a copy per frame.
func (r *reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		for len(r.cur) == 0 {
			if r.err != nil {
				return total, r.err
			}
			if r.remain == 0 {
				return total, nil
			}
			r.err = r.fill()
		}
		n, err := w.Write(r.cur)
		total += int64(n)
		r.cur = r.cur[n:]
		if err != nil {
			return total, err
		}
	}
}

// fill decodes the next frame into cur.
func (r *reader) fill() error {
	i := r.next
	if i >= r.ix.frames() {
		return fmt.Errorf("blobstore: read %s: %w", r.id, corruptf("read past last frame"))
	}
	start, end := r.ix.offs[i], r.ix.offs[i+1]
	var src []byte
	if start >= r.tailOff {
		// Already read with the index: small blobs cost one read in all.
		src = r.tail[start-r.tailOff : end-r.tailOff]
	} else {
		r.cb = r.s.buf(r.cb, &r.s.compBufs, int(end-start))
		src = (*r.cb)[:end-start]
		if _, err := r.f.ReadAt(src, start); err != nil {
			return fmt.Errorf("blobstore: read %s: %w", r.id, readErr(err))
		}
	}
	want := r.ix.frameLen(i)
	r.db = r.s.buf(r.db, &r.s.frameBufs, int(want))
	// The cap limit makes a frame that claims more than want fail instead
	// of allocating.
	out, err := r.s.dec.DecodeAll(src, (*r.db)[:0:want])
	if err != nil {
		return fmt.Errorf("blobstore: read %s: %w: frame %d: %w", r.id, ErrCorrupt, i, err)
	}
	if int64(len(out)) != want {
		return fmt.Errorf("blobstore: read %s: %w", r.id, corruptf("frame %d decoded to %d bytes, want %d", i, len(out), want))
	}
	out = out[r.skip:]
	r.skip = 0
	if int64(len(out)) > r.remain {
		out = out[:r.remain]
	}
	r.remain -= int64(len(out))
	r.cur = out
	r.next++
	return nil
}

// buf returns b, or a buffer of capacity ≥ n from pool, or a new one if the
// file declares frames larger than the pool's.
func (s *Store) buf(b *[]byte, pool *sync.Pool, n int) *[]byte {
	if b != nil && cap(*b) >= n {
		return b
	}
	nb := pool.Get().(*[]byte)
	if cap(*nb) >= n {
		return nb
	}
	pool.Put(nb)
	fresh := make([]byte, 0, n)
	return &fresh
}

func (r *reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	r.s.tailBufs.Put(r.tb)
	if r.cb != nil {
		r.s.compBufs.Put(r.cb)
	}
	if r.db != nil {
		r.s.frameBufs.Put(r.db)
	}
	r.tb, r.cb, r.db, r.tail, r.cur = nil, nil, nil, nil, nil
	r.err = fmt.Errorf("blobstore: read %s: %w", r.id, os.ErrClosed)
	return err
}
