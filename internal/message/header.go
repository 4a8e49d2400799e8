package message

import (
	"bytes"
	"strings"
)

// Field is one header field (RFC 5322 2.2) of a part.
type Field struct {
	Name  string // field name as written (case preserved, trailing WSP removed)
	Value string // raw value after the colon, unfolded (RFC 5322 2.2.3), WSP-trimmed, not decoded
	Start int64  // offset of the first byte of the field name
	End   int64  // one past the line break ending the field (folded lines included)
}

// Header returns the header fields in raw[start:end], typically
// raw[p.HeaderStart:p.BodyStart]. It stops at the blank line ending a header, so
// raw[Start:End] of a field never includes it. Lines without a colon become
// fields with that line as Name and an empty Value, so that
// HEADER.FIELDS.NOT (RFC 9051 6.4.5) still returns them byte for byte. The
// range is clamped to raw; values are not sanitised to UTF-8.
func Header(raw []byte, start, end int64) []Field {
	start, end = clamp(raw, start, end)
	var out []Field
	forEachField(raw, start, end, func(f rawField) bool {
		out = append(out, Field{
			Name:  string(f.name(raw)),
			Value: unfold(f.value(raw)),
			Start: f.start,
			End:   f.end,
		})
		return true
	})
	return out
}

// HeaderFields returns the header fields of p (not of an embedded message:
// for message/rfc822 use p.Message().HeaderFields).
func (p *Part) HeaderFields(raw []byte) []Field {
	return Header(raw, p.HeaderStart, p.BodyStart)
}

func clamp(raw []byte, start, end int64) (int64, int64) {
	n := int64(len(raw))
	start = min(max(start, 0), n)
	end = min(max(end, start), n)
	return start, end
}

// rawField locates one field without allocating.
type rawField struct {
	start, colon, end int64 // colon == -1 when the line has no colon
}

func (f rawField) name(raw []byte) []byte {
	e := f.colon
	if e < 0 {
		e = f.end
	}
	return bytes.TrimRight(raw[f.start:e], " \t\r\n")
}

func (f rawField) value(raw []byte) []byte {
	if f.colon < 0 {
		return nil
	}
	return raw[f.colon+1 : f.end]
}

// isName reports whether the field name equals name (ASCII case-insensitive).
func (f rawField) isName(raw []byte, name string) bool {
	n := f.name(raw)
	return len(n) == len(name) && bytes.EqualFold(n, []byte(name))
}

// forEachField calls fn for each field of the header in raw[start:end] until
// fn returns false or the blank line ending the header is reached.
// A line starting with SP or HTAB continues the previous field (RFC 5322
// 2.2.3); a leading continuation line with nothing before it becomes a field
// of its own.
func forEachField(raw []byte, start, end int64, fn func(rawField) bool) {
	pos := start
	for pos < end {
		if isBlankLine(raw, pos, end) {
			return
		}
		f := rawField{start: pos, colon: -1}
		pos = lineEnd(raw, pos, end)
		for pos < end && (raw[pos] == ' ' || raw[pos] == '\t') {
			pos = lineEnd(raw, pos, end)
		}
		f.end = pos
		if i := bytes.IndexByte(raw[f.start:f.end], ':'); i >= 0 {
			f.colon = f.start + int64(i)
		}
		if !fn(f) {
			return
		}
	}
}

// lineEnd returns the offset after the LF ending the line at pos, or end.
// A bare CR does not end a line.
func lineEnd(raw []byte, pos, end int64) int64 {
	if i := bytes.IndexByte(raw[pos:end], '\n'); i >= 0 {
		return pos + int64(i) + 1
	}
	return end
}

// isBlankLine reports whether an empty line (CRLF or bare LF) starts at pos.
func isBlankLine(raw []byte, pos, end int64) bool {
	return raw[pos] == '\n' || (raw[pos] == '\r' && pos+1 < end && raw[pos+1] == '\n')
}

// headerEnd returns the offset just after the blank line that ends the header
// starting at start (RFC 5322 2.1), or end when there is none: a part that is
// all header has an empty body.
func headerEnd(raw []byte, start, end int64) int64 {
	pos := start
	for pos < end {
		if isBlankLine(raw, pos, end) {
			return lineEnd(raw, pos, end)
		}
		pos = lineEnd(raw, pos, end)
	}
	return end
}

// unfold removes the line breaks of folded lines (RFC 5322 2.2.3) and trims
// surrounding whitespace. Stray CRs that are not part of a line break are kept.
func unfold(v []byte) string {
	v = bytes.Trim(v, " \t\r\n")
	if bytes.IndexByte(v, '\n') < 0 {
		return string(v)
	}
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\r' && i+1 < len(v) && v[i+1] == '\n':
			i++
		case v[i] == '\n':
		default:
			b = append(b, v[i])
		}
	}
	return string(b)
}

// parseParamHeader parses a Content-Type or Content-Disposition value
// leniently: the value up to the first ';' and the parameters (RFC 2045 5.1,
// RFC 2183 2), with RFC 2231 continuations and charset'lang'percent values
// decoded to UTF-8. Keys are lower-cased; the first occurrence of a key wins.
// RFC 2047 encoded-words inside values are left alone (see Part.Filename).
func parseParamHeader(v string) (string, map[string]string) {
	value, rest, _ := strings.Cut(v, ";")
	value = strings.TrimSpace(stripComments(value))
	var params map[string]string
	var ext map[string][]extSeg // RFC 2231 pieces by base name
	for rest != "" {
		var name, val string
		name, val, rest = nextParam(rest)
		if name == "" {
			continue
		}
		name = strings.ToLower(name)
		if base, seg, ok := splitExtName(name, val); ok {
			if ext == nil {
				ext = map[string][]extSeg{}
			}
			ext[base] = append(ext[base], seg)
			continue
		}
		if params == nil {
			params = map[string]string{}
		}
		if _, dup := params[name]; !dup {
			params[name] = val
		}
	}
	for base, segs := range ext {
		if params == nil {
			params = map[string]string{}
		}
		// RFC 2231 3: an extended value wins over a plain one of the same name.
		params[base] = joinExt(segs)
	}
	return value, params
}

// nextParam reads one "name=value" from s (after a ';'), returning the rest.
// Unquoted values run to the next ';' (spaces included, a common breakage);
// quoted values honour backslash escapes and may be unterminated.
func nextParam(s string) (name, val, rest string) {
	s = strings.TrimLeft(s, " \t\r\n;")
	i := strings.IndexAny(s, "=;")
	if i < 0 {
		return "", "", ""
	}
	if s[i] == ';' {
		return "", "", s[i+1:]
	}
	name = strings.TrimSpace(s[:i])
	s = strings.TrimLeft(s[i+1:], " \t\r\n")
	if strings.HasPrefix(s, `"`) {
		var b strings.Builder
		j := 1
		for ; j < len(s); j++ {
			c := s[j]
			if c == '\\' && j+1 < len(s) {
				j++
				b.WriteByte(s[j])
				continue
			}
			if c == '"' {
				j++
				break
			}
			b.WriteByte(c)
		}
		rest = s[j:]
		if k := strings.IndexByte(rest, ';'); k >= 0 {
			rest = rest[k+1:]
		} else {
			rest = ""
		}
		return name, b.String(), rest
	}
	if k := strings.IndexByte(s, ';'); k >= 0 {
		return name, strings.TrimSpace(stripComments(s[:k])), s[k+1:]
	}
	return name, strings.TrimSpace(stripComments(s)), ""
}

// stripComments removes RFC 5322 3.2.2 comments outside quoted strings.
func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth := 0
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (quoted || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			quoted = !quoted
			b.WriteByte(c)
		case c == '(' && !quoted:
			depth++
		case c == ')' && !quoted && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// extSeg is one RFC 2231 parameter section: name*N or name*N* or name*.
type extSeg struct {
	n       int
	encoded bool
	val     string
}

// splitExtName recognises RFC 2231 3-4 parameter names.
func splitExtName(name, val string) (string, extSeg, bool) {
	i := strings.IndexByte(name, '*')
	if i <= 0 {
		return "", extSeg{}, false
	}
	base, suf := name[:i], name[i+1:]
	seg := extSeg{val: val}
	if suf == "" { // name*=charset'lang'value
		seg.encoded = true
		return base, seg, true
	}
	if strings.HasSuffix(suf, "*") {
		seg.encoded = true
		suf = suf[:len(suf)-1]
	}
	if suf == "" || len(suf) > 4 {
		return "", extSeg{}, false
	}
	for _, c := range []byte(suf) {
		if c < '0' || c > '9' {
			return "", extSeg{}, false
		}
		seg.n = seg.n*10 + int(c-'0')
	}
	return base, seg, true
}

// joinExt reassembles RFC 2231 sections in order and converts the encoded
// ones from the charset named in the first section (RFC 2231 4) to UTF-8.
func joinExt(segs []extSeg) string {
	// Insertion sort by section number: stable, tiny inputs.
	for i := 1; i < len(segs); i++ {
		for j := i; j > 0 && segs[j].n < segs[j-1].n; j-- {
			segs[j], segs[j-1] = segs[j-1], segs[j]
		}
	}
	var cs string
	var buf []byte
	for i, s := range segs {
		v := s.val
		if s.encoded {
			if i == 0 {
				if a, b, ok := strings.Cut(v, "'"); ok {
					cs = a
					if _, c, ok := strings.Cut(b, "'"); ok {
						v = c
					} else {
						v = b
					}
				}
			}
			buf = append(buf, percentDecode(v)...)
		} else {
			buf = append(buf, v...)
		}
	}
	s, _ := convert(cs, buf)
	return s
}

func percentDecode(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return b
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
