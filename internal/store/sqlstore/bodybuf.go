package sqlstore

import (
	"bytes"
	"io"
	"math/bits"
	"sync"

	"gannet/internal/store"
)

// Buffers for messages kept inline (deliver.go: at most inlineMax bytes), which
// are decoded whole on every Open. Reusing them spares the allocation and the
// GC and madvise work it caused on the POP3 RETR path, where every message of a
// maildrop is decoded once per download.
const (
	minBodyClass = 12 // 4 KiB
	maxBodyClass = 17 // 128 KiB = inlineMax
)

// bodyPool holds decode buffers in power-of-two size classes, so that a small
// message never pins a large buffer and a large one never gets a small one.
type bodyPool struct {
	classes [maxBodyClass - minBodyClass + 1]sync.Pool // *[]byte
}

// class returns the index of the smallest class holding n bytes, or -1 when n
// is above the largest (such a buffer is allocated and left to the GC).
func bodyClass(n int64) int {
	c := max(bits.Len64(uint64(max(n, 1)-1)), minBodyClass)
	if c > maxBodyClass {
		return -1
	}
	return c - minBodyClass
}

// get returns a buffer of capacity at least n.
func (p *bodyPool) get(n int64) *[]byte {
	c := bodyClass(n)
	if c < 0 {
		b := make([]byte, 0, n)
		return &b
	}
	if b, ok := p.classes[c].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 1<<(c+minBodyClass))
	return &b
}

// put gives a buffer back. Its capacity says its class: only buffers that get
// made are put back, and a buffer of another capacity is dropped.
func (p *bodyPool) put(b *[]byte) {
	c := bodyClass(int64(cap(*b)))
	if c < 0 || cap(*b) != 1<<(c+minBodyClass) {
		return
	}
	*b = (*b)[:0]
	p.classes[c].Put(b)
}

// bodyReader serves a decoded inline message from a pooled buffer, which Close
// gives back. After Close it reads nothing: the buffer may already hold
// another message.
type bodyReader struct {
	r    bytes.Reader
	pool *bodyPool
	buf  *[]byte
}

func (p *bodyPool) reader(buf *[]byte, data []byte) *bodyReader {
	r := &bodyReader{pool: p, buf: buf}
	r.r.Reset(data)
	return r
}

// Close implements io.Closer. A second Close does nothing (it must not put
// the buffer back twice).
func (r *bodyReader) Close() error {
	if r.buf != nil {
		r.r.Reset(nil)
		r.pool.put(r.buf)
		r.buf = nil
	}
	return nil
}

// Read implements io.Reader, failing after Close.
func (r *bodyReader) Read(p []byte) (int, error) {
	if r.buf == nil {
		return 0, store.ErrClosed
	}
	return r.r.Read(p)
}

// WriteTo implements io.WriterTo (io.Copy writes straight from the buffer),
// failing after Close.
func (r *bodyReader) WriteTo(w io.Writer) (int64, error) {
	if r.buf == nil {
		return 0, store.ErrClosed
	}
	return r.r.WriteTo(w)
}
