package imapserver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strings"

	"gannet/internal/store"
)

// BINARY[part] and BINARY.SIZE[part] (RFC 3516 4) serve a part's body with
// its content transfer encoding undone. The decoded part is never held in
// memory (issue 13, finding 2: a multi-MB base64 attachment was decoded
// whole for every BINARY FETCH): a first pass decodes the part's byte range
// as it streams from the store to learn the decoded size (all BINARY.SIZE
// needs) and whether the octets to send hold NUL (then a literal8 is
// needed, RFC 3516 4.2); a second pass decodes again straight into the
// response. Memory is a few buffers whatever the part's size; the price is
// decoding twice.

// binaryScan is what the first pass learns.
type binaryScan struct {
	size  int64 // decoded size
	nul   bool  // NUL in the octets the response sends
	asRaw bool  // undecodable quoted-printable: served as it is
}

// writeBinary writes BINARY[part]<partial> or BINARY.SIZE[part].
func (c *conn) writeBinary(m *store.Message, it *fetchItem) error {
	w := c.out()
	w.Atom(itemName(it))
	start, end, ok := sectionRange(m, it)
	if !ok {
		w.NIL()
		return nil
	}
	enc := ""
	if len(it.sec.Part) > 0 {
		enc = strings.ToLower(m.Parsed.Body.Section(it.sec.Part).Encoding)
	}
	identity := enc == "" || enc == "7bit" || enc == "8bit" || enc == "binary" ||
		(enc != "base64" && enc != "quoted-printable") // unknown: refused by knownCTE before the response began
	if it.kind == fetchBinarySize && identity {
		w.Number64(uint64(end - start))
		return nil
	}
	sc, err := c.scanBinary(m, start, end, enc, identity, it)
	if err != nil {
		return err
	}
	if it.kind == fetchBinarySize {
		w.Number64(uint64(sc.size))
		return nil
	}
	off, n := clip(it, sc.size)
	if n == 0 {
		w.Literal(nil)
		return nil
	}
	if identity || sc.asRaw {
		// The undecoded octets: only the window is read.
		rc, err := c.srv.opts.Store.OpenRange(c.ctx, m.BlobID, start+off, n)
		if err != nil {
			return fmt.Errorf("fetch message %d: %w", m.UID, err)
		}
		defer rc.Close()
		if err := w.LiteralFrom(rc, n, sc.nul); err != nil {
			return fmt.Errorf("fetch message %d: %w", m.UID, err)
		}
		return nil
	}
	rc, err := c.srv.opts.Store.OpenRange(c.ctx, m.BlobID, start, end-start)
	if err != nil {
		return fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	defer rc.Close()
	dec := transferDecoder(enc, rc)
	if _, err := io.CopyN(io.Discard, dec, off); err != nil {
		return fmt.Errorf("fetch message %d: skip %d decoded octets: %w", m.UID, off, err)
	}
	// An error here leaves a broken literal on the wire: the connection is
	// closed (the error is fatal for the loop).
	if err := w.LiteralFrom(dec, n, sc.nul); err != nil {
		return fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	return nil
}

// scanBinary is the first pass: it streams the part [start, end) through
// its decoder, counting the decoded octets and looking for NUL among those
// the response will send (the partial window <off.count>, if any).
func (c *conn) scanBinary(m *store.Message, start, end int64, enc string, identity bool, it *fetchItem) (binaryScan, error) {
	var sc binaryScan
	// The window of octets to send, in decoded octets. Decoding never
	// makes a part longer, so the raw length bounds both ends.
	winStart, winEnd := int64(0), int64(-1) // -1: to the end
	if raw := uint64(end - start); it.partial {
		winStart = int64(min(it.off, raw))
		if it.count < raw {
			winEnd = winStart + int64(it.count)
		}
	}
	rc, err := c.srv.opts.Store.OpenRange(c.ctx, m.BlobID, start, end-start)
	if err != nil {
		return sc, fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	defer rc.Close()
	var src io.Reader = rc
	if !identity {
		src = transferDecoder(enc, rc)
	}
	ns := &nulScan{lo: winStart, hi: winEnd, look: it.kind == fetchBinary}
	if _, err := io.Copy(ns, src); err != nil {
		if enc == "quoted-printable" && !isStoreReadError(err) {
			// Undecodable: the part is served as it is, as before
			// streaming; a second pass over the raw octets decides NUL.
			sc.asRaw = true
			return c.scanRaw(m, start, end, winStart, winEnd, it)
		}
		return sc, fmt.Errorf("fetch message %d: decode: %w", m.UID, err)
	}
	sc.size, sc.nul = ns.n, ns.nul
	return sc, nil
}

// scanRaw scans the undecoded part for size and NUL.
func (c *conn) scanRaw(m *store.Message, start, end, winStart, winEnd int64, it *fetchItem) (binaryScan, error) {
	sc := binaryScan{asRaw: true}
	rc, err := c.srv.opts.Store.OpenRange(c.ctx, m.BlobID, start, end-start)
	if err != nil {
		return sc, fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	defer rc.Close()
	ns := &nulScan{lo: winStart, hi: winEnd, look: it.kind == fetchBinary}
	if _, err := io.Copy(ns, rc); err != nil {
		return sc, fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	sc.size, sc.nul = ns.n, ns.nul
	return sc, nil
}

// storeReadError marks an error of the store's reader, as opposed to one of
// the decoder over it.
type storeReadError struct{ err error }

func (e storeReadError) Error() string { return e.err.Error() }
func (e storeReadError) Unwrap() error { return e.err }

func isStoreReadError(err error) bool {
	var se storeReadError
	return errors.As(err, &se)
}

// nulScan counts what is written to it and notes a NUL at a position in
// [lo, hi) (hi -1: unbounded).
type nulScan struct {
	n, lo, hi int64
	look, nul bool
}

func (s *nulScan) Write(p []byte) (int, error) {
	if s.look && !s.nul {
		from, to := s.n, s.n+int64(len(p))
		if s.lo > from {
			from = s.lo
		}
		if s.hi >= 0 && s.hi < to {
			to = s.hi
		}
		if from < to && bytes.IndexByte(p[from-s.n:to-s.n], 0) >= 0 {
			s.nul = true
		}
	}
	s.n += int64(len(p))
	return len(p), nil
}

// transferDecoder undoes base64 or quoted-printable while reading r.
// Errors of r itself come back as storeReadError.
func transferDecoder(enc string, r io.Reader) io.Reader {
	r = storeReader{r}
	if enc == "base64" {
		return newBase64Reader(r)
	}
	return quotedprintable.NewReader(r)
}

// storeReader tags the errors of the store's reader (not io.EOF).
type storeReader struct{ r io.Reader }

func (s storeReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = storeReadError{err}
	}
	return n, err
}

// base64Reader decodes base64 (RFC 2045 6.8) leniently and as a stream:
// characters outside the alphabet (line breaks, spaces) are skipped,
// decoding stops at the first "=" (the padding), and a dangling sixth of a
// byte at the end is dropped. It gives what decoding the whole part at
// once gave before BINARY streamed.
type base64Reader struct {
	src      io.Reader
	in       []byte
	out      []byte // decoded octets out[pos:end] not yet returned
	pos, end int
	q        uint32 // pending sextets
	nq       int
	done     bool  // "=" or the end of src seen
	err      error // what Read returns once out is drained and done
}

func newBase64Reader(src io.Reader) *base64Reader {
	const in = 8 << 10
	return &base64Reader{src: src, in: make([]byte, in), out: make([]byte, in/4*3+3)}
}

func (d *base64Reader) Read(p []byte) (int, error) {
	for d.pos == d.end {
		if d.done {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out[d.pos:d.end])
	d.pos += n
	return n, nil
}

// fill decodes one read of src into out.
func (d *base64Reader) fill() {
	n, err := d.src.Read(d.in)
	out := d.out[:0]
	for _, ch := range d.in[:n] {
		var v byte
		switch {
		case 'A' <= ch && ch <= 'Z':
			v = ch - 'A'
		case 'a' <= ch && ch <= 'z':
			v = ch - 'a' + 26
		case '0' <= ch && ch <= '9':
			v = ch - '0' + 52
		case ch == '+':
			v = 62
		case ch == '/':
			v = 63
		case ch == '=':
			d.done, d.err = true, io.EOF
		default:
			continue
		}
		if d.done {
			break
		}
		d.q = d.q<<6 | uint32(v)
		if d.nq++; d.nq == 4 {
			out = append(out, byte(d.q>>16), byte(d.q>>8), byte(d.q))
			d.q, d.nq = 0, 0
		}
	}
	if err != nil && !d.done {
		d.done, d.err = true, err
	}
	if d.done {
		// The last quantum: two sextets make one octet, three make two;
		// one alone is dropped.
		switch d.nq {
		case 2:
			out = append(out, byte(d.q>>4))
		case 3:
			out = append(out, byte(d.q>>10), byte(d.q>>2))
		}
		d.q, d.nq = 0, 0
	}
	d.pos, d.end = 0, len(out)
}
