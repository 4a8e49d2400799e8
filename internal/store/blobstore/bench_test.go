package blobstore

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
)

// BenchmarkPut4K stores distinct 4 KB messages from parallel goroutines:
// the delivery path, dominated by fsync of the file and its directory. With
// more goroutines than cores (as with many SMTP sessions) the filesystem
// batches their fsyncs into shared journal commits.
func BenchmarkPut4K(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", p), func(b *testing.B) {
			b.SetParallelism(p)
			benchPut4K(b)
		})
	}
}

func benchPut4K(b *testing.B) {
	s := newStore(b)
	base := textData(1, 4096)
	var seq atomic.Uint64
	b.SetBytes(int64(len(base)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		data := make([]byte, len(base))
		copy(data, base)
		for pb.Next() {
			binary.LittleEndian.PutUint64(data, seq.Add(1)) // distinct ids
			if _, err := s.Put(data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPut4KDuplicate re-stores one message: the dedupe path (mtime
// update and a directory fsync).
func BenchmarkPut4KDuplicate(b *testing.B) {
	s := newStore(b)
	data := textData(1, 4096)
	if _, err := s.Put(data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Put(data); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOpenRange reads 4 KB at the end of a 10 MB blob, as an IMAP
// partial FETCH of the last body part would.
func BenchmarkOpenRange(b *testing.B) {
	s := newStore(b)
	data := textData(2, 10<<20)
	id, err := s.Put(data)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	off := int64(len(data) - len(buf))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		rc, err := s.OpenRange(id, off, int64(len(buf)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(rc, buf); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkOpen10M streams a whole 10 MB blob.
func BenchmarkOpen10M(b *testing.B) {
	s := newStore(b)
	id, err := s.Put(textData(3, 10<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(10 << 20)
	b.ReportAllocs()
	for b.Loop() {
		rc, err := s.Open(id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}

// BenchmarkOpenSmall reads a whole 4 KB message (one frame, one read).
func BenchmarkOpenSmall(b *testing.B) {
	s := newStore(b)
	id, err := s.Put(textData(4, 4096))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		rc, err := s.Open(id)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			b.Fatal(err)
		}
		rc.Close()
	}
}
