package message

import (
	"bytes"
	"strings"
)

// Limits on the MIME tree; beyond them parts become text/plain leaves.
const (
	MaxDepth = 64    // levels of nesting below the root (multipart and message/rfc822 both count)
	MaxParts = 10000 // parts in the whole tree, embedded messages included
)

// Parse parses a whole message (RFC 5322 + MIME) held in raw. It never fails,
// never returns nil and keeps no reference to raw. See the package comment for
// the invariants of the result.
func Parse(raw []byte) *Parsed {
	s := scanner{raw: raw}
	var ef envelopeFields
	root := s.part(0, int64(len(raw)), 0, false, &ef)
	p := &Parsed{Envelope: ef.envelope(raw), Body: root}
	p.Subject = DecodeHeader(p.Envelope.Subject)
	p.Date = parseDate(p.Envelope.Date)
	p.Preview = preview(raw, root)
	return p
}

// scanner walks raw once per nesting level; offsets never leave [0, len(raw)].
type scanner struct {
	raw   []byte
	parts int // parts created so far, for MaxParts
}

// part parses the entity in raw[start:end]: a header, an optional blank line,
// a body. digest selects the RFC 2046 5.1.5 default type message/rfc822. When
// ef is non-nil the envelope fields are collected in the same header pass.
func (s *scanner) part(start, end int64, depth int, digest bool, ef *envelopeFields) *Part {
	s.parts++
	p := &Part{HeaderStart: start, End: end}
	p.BodyStart = headerEnd(s.raw, start, end)
	s.header(p, digest, ef)

	switch {
	case p.Type == "multipart":
		boundary := strings.TrimRight(p.Params["boundary"], " \t")
		if boundary == "" || depth >= MaxDepth || s.parts >= MaxParts {
			textLeaf(p)
			break
		}
		for _, r := range splitMultipart(s.raw, p.BodyStart, p.End, boundary, MaxParts-s.parts) {
			if s.parts >= MaxParts { // earlier siblings' subtrees used the budget
				break
			}
			p.Parts = append(p.Parts, s.part(r[0], r[1], depth+1, p.Subtype == "digest", nil))
		}
		if len(p.Parts) == 0 {
			textLeaf(p) // RFC 9051 body-type-mpart needs at least one part
		}
	case p.IsMessageType():
		switch p.Encoding {
		case "", "7bit", "8bit", "binary":
		default:
			// RFC 2046 5.2.1 forbids encoding message/rfc822; we cannot give
			// offsets into an encoded message, so it is opaque data.
			p.Type, p.Subtype = "application", "octet-stream"
			return p
		}
		if depth >= MaxDepth || s.parts >= MaxParts {
			textLeaf(p)
			break
		}
		var cef envelopeFields
		p.Parts = []*Part{s.part(p.BodyStart, p.End, depth+1, false, &cef)}
		env := cef.envelope(s.raw)
		p.Envelope = &env
		p.Lines = countLines(s.raw[p.BodyStart:p.End])
	}
	if p.Type == "text" {
		p.Lines = countLines(s.raw[p.BodyStart:p.End])
	}
	return p
}

// textLeaf turns a part whose structure cannot be served into text/plain,
// keeping its parameters (RFC 2045 5.2 default for unusable Content-Types).
func textLeaf(p *Part) {
	p.Type, p.Subtype = "text", "plain"
	p.Parts = nil
}

// countLines counts body lines for body-fld-lines (RFC 9051 7.5.2): line
// feeds, plus a last line without one. A bare CR does not end a line.
func countLines(b []byte) int64 {
	n := int64(bytes.Count(b, []byte{'\n'}))
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// header fills p's MIME fields (RFC 2045, RFC 2183, RFC 3282, RFC 2557, RFC
// 1864) from the first occurrence of each field, and ef's envelope fields.
func (s *scanner) header(p *Part, digest bool, ef *envelopeFields) {
	var ctype, cte, id, desc, disp, lang, loc, md5 *rawField
	forEachField(s.raw, p.HeaderStart, p.BodyStart, func(f rawField) bool {
		if ef != nil {
			ef.add(s.raw, f)
		}
		n := f.name(s.raw)
		if len(n) < 10 || !bytes.EqualFold(n[:8], []byte("content-")) {
			return true
		}
		var slot **rawField
		switch strings.ToLower(string(n[8:])) {
		case "type":
			slot = &ctype
		case "transfer-encoding":
			slot = &cte
		case "id":
			slot = &id
		case "description":
			slot = &desc
		case "disposition":
			slot = &disp
		case "language":
			slot = &lang
		case "location":
			slot = &loc
		case "md5":
			slot = &md5
		default:
			return true
		}
		if *slot == nil {
			c := f
			*slot = &c
		}
		return true
	})

	ok := false
	if ctype != nil {
		v, params := parseParamHeader(fieldText(s.raw, ctype))
		if t, sub, found := strings.Cut(strings.ToLower(v), "/"); found {
			t, sub = strings.TrimSpace(t), strings.TrimSpace(sub)
			if isToken(t) && isToken(sub) {
				p.Type, p.Subtype, p.Params, ok = t, sub, params, true
			}
		}
	}
	if !ok {
		if digest && ctype == nil {
			p.Type, p.Subtype = "message", "rfc822" // RFC 2046 5.1.5
		} else {
			// RFC 2045 5.2: absent or syntactically invalid Content-Type.
			p.Type, p.Subtype = "text", "plain"
			p.Params = map[string]string{"charset": "us-ascii"}
		}
	}
	if cte != nil {
		v := strings.ToLower(strings.TrimSpace(stripComments(fieldText(s.raw, cte))))
		if i := strings.IndexAny(v, " \t;"); i >= 0 {
			v = v[:i]
		}
		p.Encoding = v
	}
	p.ID = fieldText(s.raw, id)
	p.Description = fieldText(s.raw, desc)
	p.Location = fieldText(s.raw, loc)
	p.MD5 = fieldText(s.raw, md5)
	if disp != nil {
		v, params := parseParamHeader(fieldText(s.raw, disp))
		if v = strings.ToLower(v); v != "" {
			p.Disposition, p.DispParams = v, params
		}
	}
	if lang != nil {
		for _, l := range strings.Split(stripComments(fieldText(s.raw, lang)), ",") {
			if l = strings.TrimSpace(l); l != "" {
				p.Language = append(p.Language, l)
			}
		}
	}
}

// isToken reports whether s is a non-empty RFC 2045 5.1 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// splitMultipart returns the [start, end) ranges of the body parts of the
// multipart body raw[start:end] (RFC 2046 5.1.1), at most limit of them.
//
// A delimiter is "--boundary" at the start of a line, followed by "--" (the
// close delimiter), by whitespace or by the line end; anything else that
// merely starts with the boundary is body text, which keeps an inner boundary
// that extends an outer one (a sender error) from splitting the outer part.
// The line break before a delimiter belongs to the delimiter. The preamble and
// the epilogue after the close delimiter belong to no part. A part that is
// never closed runs to end.
func splitMultipart(raw []byte, start, end int64, boundary string, limit int) [][2]int64 {
	delim := []byte("--" + boundary)
	var out [][2]int64
	open := false
	var partStart int64
	for pos := start; pos < end && len(out) < limit; {
		i := bytes.Index(raw[pos:end], delim)
		if i < 0 {
			break
		}
		at := pos + int64(i)
		if at > start && raw[at-1] != '\n' {
			pos = at + 1
			continue
		}
		after := at + int64(len(delim))
		closing := false
		switch {
		case after+1 < end && raw[after] == '-' && raw[after+1] == '-':
			closing = true
		case after < end && raw[after] != ' ' && raw[after] != '\t' && raw[after] != '\r' && raw[after] != '\n':
			pos = at + 1
			continue
		}
		dStart := at // the delimiter starts with the line break before it
		if at > start {
			dStart--
			if dStart > start && raw[dStart-1] == '\r' {
				dStart--
			}
		}
		if open {
			out = append(out, [2]int64{partStart, max(partStart, dStart)})
		}
		if closing {
			return out
		}
		open = true
		partStart = lineEnd(raw, after, end)
		pos = partStart
	}
	if open && len(out) < limit {
		out = append(out, [2]int64{partStart, end})
	}
	return out
}
