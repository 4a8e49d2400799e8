package smtpserver

import (
	"bufio"
	"bytes"
	"io"
	"sync"
)

// Pools of the buffers every connection and every message needs. With one
// connection per message (what most MTAs do), allocating and zeroing a
// connection's reader and writer was a third of the bytes the SMTP server
// allocated, and growing a fresh message buffer another third.
var (
	bufPool    = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, writeBufSize) }}
)

// maxPooled keeps a rare big message's buffer from being held for reuse.
const maxPooled = 1 << 20

func getBuffer() *bytes.Buffer { return bufPool.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooled {
		return
	}
	b.Reset()
	bufPool.Put(b)
}

func getReader(r io.Reader) *bufio.Reader {
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func getWriter(w io.Writer) *bufio.Writer {
	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

// releaseBuffers returns the connection's reader and writer to their pools
// once its goroutine is done with them (at the end of Serve, or of Recovered
// after a panic). Nothing else touches them: Interrupt and End reach a
// connection only through raw and mu. Reset drops what they held (buffered
// bytes, the connection).
func (c *conn) releaseBuffers() {
	c.br.Reset(nil)
	c.bw.Reset(nil)
	readerPool.Put(c.br)
	writerPool.Put(c.bw)
	c.br, c.bw = nil, nil
}
