package imapserver

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"gannet/internal/message"
	"gannet/internal/store"
)

// Body sections are byte ranges of the stored message, located by the part
// offsets computed once at delivery (internal/message); they are streamed
// from the blob store with OpenRange and never read whole into memory,
// except for header fields (HEADER.FIELDS). BINARY decodes while streaming
// (fetch_binary.go).

// sectionRange returns the octets [start, end) of the message that a
// section names (RFC 9051 6.4.5), or ok false for a part that does not
// exist. filter is set for HEADER.FIELDS[.NOT].
func sectionRange(m *store.Message, it *fetchItem) (start, end int64, ok bool) {
	sec := &it.sec
	if len(sec.Part) == 0 && sec.Specifier == "" {
		return 0, m.Size, true
	}
	root := m.Parsed.Body
	part := root
	if len(sec.Part) > 0 {
		if part = root.Section(sec.Part); part == nil {
			return 0, 0, false
		}
	}
	switch sec.Specifier {
	case "":
		return part.BodyStart, part.End, true
	case "MIME":
		return part.HeaderStart, part.BodyStart, true
	}
	// HEADER, TEXT, HEADER.FIELDS[.NOT] of the message or of an embedded
	// message/rfc822 part.
	if len(sec.Part) > 0 {
		if part = part.Message(); part == nil {
			return 0, 0, false
		}
	}
	if sec.Specifier == "TEXT" {
		return part.BodyStart, part.End, true
	}
	return part.HeaderStart, part.BodyStart, true
}

// itemName is the response name of a section item: BODY[section]<origin>.
func itemName(it *fetchItem) string {
	if it.name != "" {
		return it.name
	}
	prefix := "BODY["
	switch it.kind {
	case fetchBinary:
		prefix = "BINARY["
	case fetchBinarySize:
		prefix = "BINARY.SIZE["
	}
	name := prefix + it.sec.String() + "]"
	if it.partial {
		name += "<" + strconv.FormatUint(it.off, 10) + ">"
	}
	return name
}

// clip applies a partial <off.count> to n octets (RFC 9051 6.4.5).
func clip(it *fetchItem, n int64) (off, length int64) {
	if !it.partial {
		return 0, n
	}
	if it.off >= uint64(n) {
		return n, 0
	}
	off = int64(it.off)
	return off, min(n-off, int64(min(it.count, uint64(n))))
}

// writeSection writes one BODY[...] (or RFC822...) item.
func (c *conn) writeSection(m *store.Message, it *fetchItem) error {
	w := c.out()
	w.Atom(itemName(it))
	start, end, ok := sectionRange(m, it)
	if !ok {
		w.NIL()
		return nil
	}
	if end > m.Size {
		end = m.Size
	}
	if f := it.sec.Specifier; f == "HEADER.FIELDS" || f == "HEADER.FIELDS.NOT" {
		hdr, err := c.readRange(m.BlobID, start, end-start)
		if err != nil {
			return err
		}
		data := filterHeader(hdr, it.sec.Fields, f == "HEADER.FIELDS.NOT")
		off, n := clip(it, int64(len(data)))
		w.Literal(data[off : off+n])
		return nil
	}
	off, n := clip(it, end-start)
	if n == 0 {
		w.String("")
		return nil
	}
	rc, err := c.srv.opts.Store.OpenRange(c.ctx, m.BlobID, start+off, n)
	if err != nil {
		return fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	defer rc.Close()
	// An error here leaves a broken literal on the wire: the connection is
	// closed (the error is fatal for the loop).
	if err := w.LiteralFrom(rc, n, false); err != nil {
		return fmt.Errorf("fetch message %d: %w", m.UID, err)
	}
	return nil
}

// readRange reads a small range of a message (a header) into memory.
func (c *conn) readRange(blob string, off, n int64) ([]byte, error) {
	rc, err := c.srv.opts.Store.OpenRange(c.ctx, blob, off, n)
	if err != nil {
		return nil, fmt.Errorf("read message range: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, n))
	if err != nil {
		return nil, fmt.Errorf("read message range: %w", err)
	}
	return b, nil
}

// filterHeader returns the fields of hdr named in names (or, with not, the
// others), byte for byte, followed by the empty line (RFC 9051 6.4.5).
func filterHeader(hdr []byte, names []string, not bool) []byte {
	var out bytes.Buffer
	for _, f := range message.Header(hdr, 0, int64(len(hdr))) {
		in := false
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(f.Name), n) {
				in = true
				break
			}
		}
		if in != not {
			out.Write(hdr[f.Start:f.End])
		}
	}
	out.WriteString("\r\n")
	return out.Bytes()
}

// knownCTE reports whether every BINARY item of the request can be decoded
// for m; otherwise FETCH answers NO [UNKNOWN-CTE] (RFC 3516 4.3).
func knownCTE(req *fetchRequest, m *store.Message) bool {
	for _, it := range req.items {
		if (it.kind != fetchBinary && it.kind != fetchBinarySize) || len(it.sec.Part) == 0 {
			continue
		}
		part := m.Parsed.Body.Section(it.sec.Part)
		if part == nil {
			continue
		}
		switch strings.ToLower(part.Encoding) {
		case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
		default:
			return false
		}
	}
	return true
}
