package imapwire

import "strconv"

// Section is a parsed section-spec of BODY[...], BODY.PEEK[...] and, with
// only Part, BINARY[...] (RFC 9051 6.4.5, 9).
type Section struct {
	Part []int // section-part, e.g. [1 2] for "1.2"; empty for the whole message
	// Specifier is "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"
	// or "MIME" (MIME only after a part, RFC 9051 9: section-text).
	Specifier string
	Fields    []string // header-list of HEADER.FIELDS[.NOT], as sent
}

// String formats the section as it appears between the brackets of a FETCH
// response item (RFC 9051 7.5.2: "BODY" section ["<" number ">"]).
func (s Section) String() string {
	var b []byte
	for i, n := range s.Part {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			b = append(b, '.')
		}
		b = append(b, s.Specifier...)
	}
	if s.Specifier == "HEADER.FIELDS" || s.Specifier == "HEADER.FIELDS.NOT" {
		b = append(b, " ("...)
		for i, f := range s.Fields {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendAString(b, f)
		}
		b = append(b, ')')
	}
	return string(b)
}

// appendAString appends f as an atom when it is one, else quoted.
func appendAString(b []byte, f string) []byte {
	atom := f != ""
	for i := 0; i < len(f); i++ {
		if !isAStringChar(f[i]) {
			atom = false
			break
		}
	}
	if atom {
		return append(b, f...)
	}
	return appendQuoted(b, f)
}

// Section reads "[" section-spec "]" (RFC 9051 9: section).
func (p *Parser) Section() (Section, error) {
	var s Section
	if err := p.Expect('['); err != nil {
		return s, err
	}
	if p.Accept(']') {
		return s, nil
	}
	for isDigit(p.Peek()) {
		n, err := p.NZNumber()
		if err != nil {
			return s, err
		}
		if n > 1<<20 {
			return s, p.fail(KindSyntax, "section part out of range")
		}
		s.Part = append(s.Part, int(n))
		if !p.Accept('.') {
			if err := p.Expect(']'); err != nil {
				return s, err
			}
			return s, nil
		}
	}
	kw, err := p.Keyword()
	if err != nil {
		return s, err
	}
	switch kw {
	case "HEADER", "TEXT":
	case "MIME":
		if len(s.Part) == 0 {
			return s, p.fail(KindSyntax, "MIME needs a section part")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		if err := p.SP(); err != nil {
			return s, err
		}
		err := p.List(func() error {
			f, err := p.AString()
			s.Fields = append(s.Fields, f)
			return err
		})
		if err != nil {
			return s, err
		}
		if len(s.Fields) == 0 {
			return s, p.fail(KindSyntax, "empty header list")
		}
	default:
		return s, p.fail(KindSyntax, "invalid section")
	}
	s.Specifier = kw
	if err := p.Expect(']'); err != nil {
		return s, err
	}
	return s, nil
}

// Partial reads an optional partial "<" offset "." count ">" (RFC 9051 9) and
// reports whether one was there.
func (p *Parser) Partial() (offset, count uint64, ok bool, err error) {
	if !p.Accept('<') {
		return 0, 0, false, p.err
	}
	if offset, err = p.Number64(); err != nil {
		return 0, 0, false, err
	}
	if err = p.Expect('.'); err != nil {
		return 0, 0, false, err
	}
	if count, err = p.Number64(); err != nil {
		return 0, 0, false, err
	}
	if count == 0 {
		return 0, 0, false, p.fail(KindSyntax, "expected non-zero number")
	}
	if err = p.Expect('>'); err != nil {
		return 0, 0, false, err
	}
	return offset, count, true, nil
}
