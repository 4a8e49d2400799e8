package imapserver

import (
	"bufio"
	"compress/flate"
	"errors"
	"io"
	"strings"

	"gannet/internal/imapwire"
)

// COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions are one
// raw DEFLATE stream (RFC 1951) each, flushed at the end of every response
// burst (a sync flush, RFC 4978 4), so the client can decode what it was
// sent before it answers.
//
// Memory: an idle connection keeps its inflater (the client's stream may
// refer to up to 32 KiB of what it sent before, so the window must stay),
// about 43 KiB; the deflater (hundreds of KiB) is taken from a pool for a
// response burst and given back after it. A deflater's stream may end at
// any sync flush and a new one continue it: the next blocks simply refer to
// nothing before them, which DEFLATE allows. The ratio is that of each
// burst on its own, which for FETCHes of message bodies is nearly all of it.
type compression struct {
	zr io.ReadCloser // inflater over the connection's reads
	zw *flate.Writer // deflater while a burst is written, else nil
}

// errPipelinedCompress ends a connection that sent data after COMPRESS
// before the server's OK: it cannot tell whether it was compressed (RFC
// 4978 3 forbids pipelining after COMPRESS).
var errPipelinedCompress = errors.New("data pipelined after COMPRESS")

// compressLevel trades CPU for ratio: level 1 gets most of the gain on
// mail (text) at a small fraction of the default level's CPU.
const compressLevel = flate.BestSpeed

// cmdCompress is COMPRESS (RFC 4978 3).
func (c *conn) cmdCompress(cmd *command) error {
	p := cmd.p
	if err := p.SP(); err != nil {
		return err
	}
	alg, err := p.Atom()
	if err != nil {
		return err
	}
	if err := p.End(); err != nil {
		return err
	}
	if c.z != nil {
		return errNo("COMPRESSIONACTIVE", "DEFLATE is already active")
	}
	if !strings.EqualFold(alg, "DEFLATE") {
		return errNo("", "Unknown compression mechanism")
	}
	if c.br.Buffered() > 0 {
		return errPipelinedCompress
	}
	cmd.done = true
	if err := c.out().Status(cmd.tag, "OK", "", "DEFLATE active"); err != nil {
		return err
	}
	if err := c.flush(true); err != nil {
		return err
	}
	// flate reads a byte at a time from an io.ByteReader; a small buffer
	// under it keeps reads from the network few without much memory.
	zr := flate.NewReader(bufio.NewReaderSize(connReader{c}, 512))
	c.z = &compression{zr: zr}
	c.br = bufio.NewReaderSize(zr, readBufSize)
	c.r = imapwire.NewReader(c.br, c.readerOptions())
	c.log.Debug("compression on")
	return nil
}

// compressedWrite writes p into the deflater, taking one from the pool at
// the start of a burst.
func (c *conn) compressedWrite(p []byte) (int, error) {
	if c.z.zw == nil {
		if zw, ok := c.srv.zpool.Get().(*flate.Writer); ok {
			zw.Reset(rawWriter{c})
			c.z.zw = zw
		} else {
			zw, err := flate.NewWriter(rawWriter{c}, compressLevel)
			if err != nil {
				return 0, err
			}
			c.z.zw = zw
		}
	}
	return c.z.zw.Write(p)
}

// flushCompressed sync-flushes the deflater (RFC 4978 4), and with release
// gives it back to the pool.
func (c *conn) flushCompressed(release bool) error {
	if c.z == nil || c.z.zw == nil {
		return nil
	}
	err := c.z.zw.Flush()
	if release || err != nil {
		if err == nil {
			c.srv.zpool.Put(c.z.zw)
		}
		c.z.zw = nil
	}
	return err
}
