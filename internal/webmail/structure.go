package webmail

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"
	"unicode"

	"gannet/internal/message"
	"gannet/internal/store"
)

// layout is what the UI needs to know about a message's MIME tree: which
// part to display, which are attachments, which are inline images, and the
// IMAP section name of each (RFC 9051 6.4.5), used in part URLs.
type layout struct {
	html, text  *message.Part
	attachments []*message.Part
	cids        map[string]*message.Part // Content-ID (without <>) → part
	sections    map[*message.Part]string
}

// analyse computes the layout of a parsed message.
func analyse(root *message.Part) *layout {
	l := &layout{cids: map[string]*message.Part{}, sections: map[*message.Part]string{}}
	if root.Type != "multipart" {
		l.sections[root] = "1"
	} else {
		nameSections(root, "", l.sections)
	}
	l.html, l.text = chooseBody(root)
	// rel: inside a multipart/related; alt: a direct child of a
	// multipart/alternative.
	var mark func(p *message.Part, rel, alt bool)
	mark = func(p *message.Part, rel, alt bool) {
		if p.Type == "multipart" {
			for _, c := range p.Parts {
				mark(c, rel || p.Subtype == "related", p.Subtype == "alternative")
			}
			return
		}
		if id := strings.Trim(strings.TrimSpace(p.ID), "<>"); id != "" {
			l.cids[id] = p
		}
		if p == l.html || p == l.text {
			return
		}
		if rel && p.ID != "" && p.Disposition != "attachment" {
			return // an inline resource of the HTML body
		}
		if alt && p.Type == "text" && p.Disposition != "attachment" && p.Filename() == "" {
			return // the other rendering of the body
		}
		l.attachments = append(l.attachments, p)
	}
	mark(root, false, false)
	return l
}

// nameSections gives each part under a multipart its section path; the
// children of an embedded message are not descended into (the UI offers the
// whole message/rfc822 part as one attachment).
func nameSections(mp *message.Part, prefix string, out map[*message.Part]string) {
	for i, c := range mp.Parts {
		name := strconv.Itoa(i + 1)
		if prefix != "" {
			name = prefix + "." + name
		}
		out[c] = name
		if c.Type == "multipart" {
			nameSections(c, name, out)
		}
	}
}

// chooseBody picks the HTML and plain-text renderings to display: in
// multipart/alternative the last (richest) of each kind (RFC 2046 5.1.4), in
// multipart/related its root, in any other multipart the first part that
// is not an attachment.
func chooseBody(p *message.Part) (html, text *message.Part) {
	switch {
	case p.Type == "text" && p.Subtype == "html" && !isAttachment(p):
		return p, nil
	case p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "enriched") && !isAttachment(p):
		return nil, p
	case p.Type != "multipart":
		return nil, nil
	case p.Subtype == "alternative":
		for i := len(p.Parts) - 1; i >= 0; i-- {
			h, t := chooseBody(p.Parts[i])
			if html == nil {
				html = h
			}
			if text == nil {
				text = t
			}
		}
		return html, text
	case p.Subtype == "related":
		start := p.Parts[0]
		if id := strings.Trim(p.Params["start"], "<>"); id != "" {
			for _, c := range p.Parts {
				if strings.Trim(c.ID, "<>") == id {
					start = c
				}
			}
		}
		return chooseBody(start)
	default:
		for _, c := range p.Parts {
			if isAttachment(c) {
				continue
			}
			if h, t := chooseBody(c); h != nil || t != nil {
				return h, t
			}
		}
		return nil, nil
	}
}

// isAttachment reports whether a part is meant as a file rather than as the
// text of the message.
func isAttachment(p *message.Part) bool {
	return p.Disposition == "attachment" || (p.Type != "multipart" && p.Type != "text" && !p.IsMessageType()) ||
		(p.Type == "text" && p.Filename() != "")
}

// filename is a part's file name as the UI shows it (displayName), or a
// made-up one from its type.
func filename(p *message.Part, section string) string {
	if n := displayName(p.Filename()); n != "" {
		return n
	}
	ext := ".bin"
	switch {
	case p.IsMessageType():
		ext = ".eml"
	case p.Type == "text" && p.Subtype == "plain":
		ext = ".txt"
	case p.Type == "text" && p.Subtype == "html":
		ext = ".html"
	case p.Type == "text" && p.Subtype == "calendar":
		ext = ".ics"
	case p.Type == "image" && isToken(p.Subtype):
		ext = "." + p.Subtype
	}
	return "part-" + section + ext
}

// displayName drops from a name taken from a message what would make it read
// as something else (issue 13, finding 9): control characters (Cc), format
// characters (Cf: the bidi embeddings, overrides and isolates U+202A-U+202E
// and U+2066-U+2069, the marks U+200E/U+200F/U+061C, zero-width characters
// and the like), and line and paragraph separators (Zl, Zp). With U+202E,
// "invoice\u202Efdp.exe" displays as "invoiceexe.pdf". The name is trimmed
// of surrounding space.
func displayName(name string) string {
	if !strings.ContainsFunc(name, isHiddenRune) {
		return strings.TrimSpace(name)
	}
	var b strings.Builder
	for _, r := range name {
		if !isHiddenRune(r) {
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

func isHiddenRune(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// openBody returns a reader of the transfer-decoded body of p (RFC 2045 6).
// Unknown encodings are passed through undecoded.
func (s *Server) openBody(ctx context.Context, blobID string, p *message.Part) (io.ReadCloser, error) {
	rc, err := s.opts.Store.OpenRange(ctx, blobID, p.BodyStart, p.End-p.BodyStart)
	if err != nil {
		return nil, fmt.Errorf("open part: %w", err)
	}
	var r io.Reader = rc
	switch p.Encoding {
	case "base64":
		// The decoder skips CR and LF; other junk ends the data early.
		r = base64.NewDecoder(base64.StdEncoding, &base64Filter{r: rc})
	case "quoted-printable":
		r = quotedprintable.NewReader(rc)
	}
	return struct {
		io.Reader
		io.Closer
	}{r, rc}, nil
}

// base64Filter drops bytes outside the base64 alphabet (spaces, tabs,
// stray characters), which real mailers emit and strict decoders refuse.
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// readBody returns up to limit transfer-decoded bytes of p and whether it
// was cut short.
func (s *Server) readBody(ctx context.Context, blobID string, p *message.Part, limit int64) ([]byte, bool, error) {
	rc, err := s.openBody(ctx, blobID, p)
	if err != nil {
		return nil, false, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil && len(b) == 0 {
		return nil, false, fmt.Errorf("read part: %w", err)
	}
	// A decoding error half-way keeps what was decoded: mail is messy.
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

// readText returns the body of a text part as UTF-8, at most limit bytes of
// the raw part read.
func (s *Server) readText(ctx context.Context, blobID string, p *message.Part, limit int64) (string, bool, error) {
	n := min(p.End-p.BodyStart, limit)
	rc, err := s.opts.Store.OpenRange(ctx, blobID, p.BodyStart, n)
	if err != nil {
		return "", false, fmt.Errorf("open text part: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return "", false, fmt.Errorf("read text part: %w", err)
	}
	// DecodeText reads raw[BodyStart:End] of its part: hand it a copy of the
	// part shifted to the bytes we read.
	q := *p
	q.HeaderStart, q.BodyStart, q.End = 0, 0, int64(len(raw))
	text, _ := message.DecodeText(raw, &q) // best effort by design
	return text, p.End-p.BodyStart > limit, nil
}

// headerFields reads the top-level header of a stored message.
func (s *Server) headerFields(ctx context.Context, m *store.Message) ([]message.Field, error) {
	rc, err := s.opts.Store.OpenRange(ctx, m.BlobID, 0, m.Parsed.Body.BodyStart)
	if err != nil {
		return nil, fmt.Errorf("open header: %w", err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	return message.Header(raw, 0, int64(len(raw))), nil
}

// headerValue returns the first value of a header field, unfolded.
func headerValue(fields []message.Field, name string) string {
	for _, f := range fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// isToken reports whether s is a safe MIME token (RFC 2045 5.1) for use in
// headers we write.
func isToken(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	return !bytes.ContainsFunc([]byte(s), func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?=`, r)
	})
}
