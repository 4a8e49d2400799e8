package imapserver_test

import (
	"bufio"
	"compress/flate"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"gannet/internal/store/storetest"
)

// flateConn is the client side of COMPRESS=DEFLATE (RFC 4978): every write
// is deflated and sync-flushed, reads are inflated. raw counts the
// compressed octets read.
type flateConn struct {
	net.Conn
	zr  io.ReadCloser
	zw  *flate.Writer
	raw *countingReader
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newFlateConn(t *testing.T, nc net.Conn, br *bufio.Reader) *flateConn {
	t.Helper()
	if br.Buffered() > 0 {
		t.Fatal("octets after the COMPRESS OK before compression began")
	}
	zw, err := flate.NewWriter(nc, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	raw := &countingReader{r: nc}
	return &flateConn{Conn: nc, zr: flate.NewReader(raw), zw: zw, raw: raw}
}

func (c *flateConn) Read(p []byte) (int, error) { return c.zr.Read(p) }

func (c *flateConn) Write(p []byte) (int, error) {
	n, err := c.zw.Write(p)
	if err == nil {
		err = c.zw.Flush()
	}
	return n, err
}

// TestCompressDeflate: COMPRESS DEFLATE after login; then SELECT, a large
// FETCH (compressed well: text), IDLE hearing a delivery (the server's push
// wakes a read below the inflater), a second COMPRESS refused with
// COMPRESSIONACTIVE, and LOGOUT, all through the compressed streams.
func TestCompressDeflate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := strings.Repeat("All work and no play makes Jack a dull boy.\n", 4000)
	e.deliver("INBOX", storetest.Msg{Subject: "big", Body: body})
	w := e.dial()
	if lines := w.cmd("a CAPABILITY"); strings.Contains(lines[0], "COMPRESS=DEFLATE") {
		t.Errorf("COMPRESS offered before login: %q", lines)
	}
	done, _ := w.status("b LOGIN alice@example.org \"correct horse\"")
	if !strings.Contains(done, "COMPRESS=DEFLATE") {
		t.Fatalf("LOGIN: %q", done)
	}
	if done, _ := w.status("c COMPRESS GZIP"); !strings.HasPrefix(done, "c NO") {
		t.Errorf("COMPRESS GZIP: %q", done)
	}
	if done, _ := w.status("d COMPRESS DEFLATE"); done != "d OK DEFLATE active" {
		t.Fatalf("COMPRESS DEFLATE: %q", done)
	}
	fc := newFlateConn(t, w.nc, w.r)
	w.nc, w.r = fc, bufio.NewReader(fc)

	w.cmd("e SELECT INBOX")
	before := fc.raw.n
	lines := w.cmd("f FETCH 1 (BODY.PEEK[TEXT])")
	if len(lines) != 1 || !strings.Contains(lines[0], strings.ReplaceAll(body, "\n", "\r\n")) {
		t.Fatalf("FETCH through COMPRESS: %d lines, %.80q", len(lines), lines)
	}
	if got := fc.raw.n - before; got*10 > int64(len(body)) {
		t.Errorf("FETCH of %d octets took %d compressed octets: not compressed", len(body), got)
	}
	if done, _ := w.status("g COMPRESS DEFLATE"); !strings.HasPrefix(done, "g NO [COMPRESSIONACTIVE]") {
		t.Errorf("second COMPRESS: %q", done)
	}

	w.send("h IDLE")
	if l := w.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("IDLE: %q", l)
	}
	e.deliver("INBOX", storetest.Msg{Subject: "pushed"})
	w.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if l := w.line(); l != "* 2 EXISTS" {
		t.Fatalf("IDLE through COMPRESS heard %q", l)
	}
	w.send("DONE")
	for {
		l := w.line()
		if strings.HasPrefix(l, "h ") {
			if !strings.HasPrefix(l, "h OK") {
				t.Fatalf("IDLE: %q", l)
			}
			break
		}
	}
	w.cmd("i NOOP")
	w.send("j LOGOUT")
	if l := w.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("LOGOUT: %q", l)
	}
}
