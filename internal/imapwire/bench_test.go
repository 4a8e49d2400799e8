package imapwire

import (
	"bufio"
	"io"
	"testing"

	"gannet/internal/message"
)

// repeatReader yields b over and over.
type repeatReader struct {
	b   []byte
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}

// BenchmarkParseUIDFetch parses "UID FETCH 1:* (FLAGS UID MODSEQ)" the way
// a handler does.
func BenchmarkParseUIDFetch(b *testing.B) {
	const cmd = "a0042 UID FETCH 1:* (FLAGS UID MODSEQ)\r\n"
	r := NewReader(bufio.NewReader(&repeatReader{b: []byte(cmd)}), Options{})
	b.SetBytes(int64(len(cmd)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := r.ReadCommand()
		if err != nil {
			b.Fatal(err)
		}
		p := c.Args
		p.SP()
		p.Keyword()
		p.SP()
		p.SeqSet()
		p.SP()
		p.List(func() error {
			_, err := p.Keyword()
			return err
		})
		if err := p.End(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchTree() *message.Part {
	inner := part("text", "html", 20, 2)
	inner.Params = map[string]string{"charset": "utf-8"}
	embedded := part("message", "rfc822", 500, 12)
	embedded.Envelope = rfcEnvelope()
	embedded.Parts = []*message.Part{inner}
	root := rfcMixed()
	root.Parts = append(root.Parts, embedded)
	return root
}

// BenchmarkBodyStructure encodes BODYSTRUCTURE of a multipart/mixed with
// two text parts and an embedded message/rfc822.
func BenchmarkBodyStructure(b *testing.B) {
	w := NewWriter(bufio.NewWriter(io.Discard))
	p := benchTree()
	b.ReportAllocs()
	for b.Loop() {
		w.BodyStructure(p, true)
		w.CRLF()
	}
}

func BenchmarkEnvelope(b *testing.B) {
	w := NewWriter(bufio.NewWriter(io.Discard))
	e := rfcEnvelope()
	b.ReportAllocs()
	for b.Loop() {
		w.Envelope(e)
		w.CRLF()
	}
}
