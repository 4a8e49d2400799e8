package sieve

import (
	"strings"

	"gannet/internal/message"
)

// Envelope is the SMTP envelope of the message being filtered (RFC 5228 5.4).
type Envelope struct {
	From string // MAIL FROM without angle brackets; "" for the null reverse-path <>
	To   string // the RCPT TO address this run delivers for
}

// Message is the message a script runs on. It reads headers, parts and body
// from internal/message's parse, so a delivery that already parsed the message
// passes its result instead of parsing again.
type Message struct {
	raw    []byte
	parsed *message.Parsed
	env    Envelope
	header []field
}

// BodyStart is the offset of the body in the raw message: what follows
// Result.Header when a script edited the header.
func (m *Message) BodyStart() int64 { return m.parsed.Body.BodyStart }

// field is one top-level header field: name as written, raw unfolded value.
type field struct {
	name, value string
	raw         string // the field's bytes as received, line break included; "" for added fields
}

// NewMessage wraps raw; parsed may be nil, then raw is parsed here.
func NewMessage(raw []byte, parsed *message.Parsed, env Envelope) *Message {
	if parsed == nil {
		parsed = message.Parse(raw)
	}
	m := &Message{raw: raw, parsed: parsed, env: env}
	for _, f := range parsed.Body.HeaderFields(raw) {
		m.header = append(m.header, field{name: f.Name, value: f.Value, raw: string(raw[f.Start:f.End])})
	}
	return m
}

// Size is the message size in octets (RFC 5228 5.9).
func (m *Message) Size() int { return len(m.raw) }

// headerValues returns the raw values of the fields named name in hdr, in
// order (RFC 5228 5.7: all occurrences).
func headerValues(hdr []field, name string) []string {
	var out []string
	for _, f := range hdr {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// pickIndex applies :index / :last (RFC 5260 6): index counts from 1, from the
// end with :last; no index keeps all.
func pickIndex(n *cnode, vals []string) []string {
	a, ok := n.tags["index"]
	if !ok {
		return vals
	}
	i := int(min(a.num, uint64(len(vals)+1)))
	if i < 1 || i > len(vals) {
		return nil
	}
	if n.has("last") {
		return []string{vals[len(vals)-i]}
	}
	return []string{vals[i-1]}
}

// addrOf is one address of a header, parts split (RFC 5228 2.7.4).
type addrOf struct {
	local, domain string
}

func parseAddresses(v string) []addrOf {
	var out []addrOf
	for _, a := range message.ParseAddressList(v) {
		if a.Host == "" { // group start or end (see message.ParseAddressList)
			continue
		}
		ad := addrOf{local: a.Mailbox, domain: a.Host}
		if message.IsMissing(ad.local) {
			ad.local = ""
		}
		if message.IsMissing(ad.domain) {
			ad.domain = ""
		}
		out = append(out, ad)
	}
	return out
}

// splitAddress splits an envelope address (no display name) at its last '@'.
func splitAddress(s string) addrOf {
	s = strings.Trim(strings.TrimSpace(s), "<>")
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return addrOf{local: s[:i], domain: s[i+1:]}
	}
	return addrOf{local: s}
}

// part returns the part of an address the test asks for (RFC 5228 2.7.4,
// RFC 5233 4 with "+" as the separator); ok is false when the part does not
// exist, e.g. :detail of an address without a "+".
func (a addrOf) part(n *cnode) (string, bool) {
	switch {
	case n.has("localpart"):
		return a.local, true
	case n.has("domain"):
		return a.domain, true
	case n.has("user"):
		user, _, _ := strings.Cut(a.local, "+")
		return user, true
	case n.has("detail"):
		_, detail, ok := strings.Cut(a.local, "+")
		return detail, ok
	}
	if a.domain == "" {
		return a.local, true
	}
	return a.local + "@" + a.domain, true
}

// bodyTexts returns the texts a body test compares (RFC 5173 5): the raw body
// (:raw), or the decoded parts whose content type matches one of types
// (:content; :text is :content "text"). Each text is cut at limit bytes.
func (m *Message) bodyTexts(n *cnode, types []string, limit int) []string {
	root := m.parsed.Body
	if n.has("raw") {
		start := min(max(root.BodyStart, 0), int64(len(m.raw)))
		return []string{truncate(string(m.raw[start:]), limit)}
	}
	var out []string
	clip := func(a, b int64) string {
		a, b = min(max(a, 0), int64(len(m.raw))), min(max(b, 0), int64(len(m.raw)))
		if a >= b {
			return ""
		}
		return string(m.raw[a:b])
	}
	root.Walk(func(p *message.Part) bool {
		if !contentMatches(p, types) {
			return true
		}
		switch {
		case p.Type == "multipart" && len(p.Parts) > 0:
			// RFC 5173 5.2: of a multipart, the prologue and the epilogue
			// are tested (its children are tested on their own).
			b := "--" + p.Params["boundary"]
			last := p.Parts[len(p.Parts)-1]
			for _, s := range []string{clip(p.BodyStart, p.Parts[0].HeaderStart), clip(last.End, p.End)} {
				out = append(out, truncate(dropDelimiters(s, b), limit))
			}
			return len(out) < 1000
		case p.IsMessage():
			// RFC 5173 5.2: of a message/rfc822, its header is tested.
			e := p.Message()
			out = append(out, truncate(message.DecodeHeader(clip(e.HeaderStart, e.BodyStart)), limit))
			return len(out) < 1000
		case p.Type == "multipart":
			return true
		}
		s, _ := message.DecodeText(m.raw, p)
		out = append(out, truncate(s, limit))
		return len(out) < 1000
	})
	return out
}

// contentMatches implements :content's type matching (RFC 5173 5.2): "" is
// every type, "type" every subtype of it, "type/subtype" exactly that.
func contentMatches(p *message.Part, types []string) bool {
	for _, t := range types {
		t = strings.ToLower(strings.TrimSpace(t))
		typ, sub, hasSub := strings.Cut(t, "/")
		switch {
		case t == "":
			return true
		case !hasSub && typ == p.Type:
			return true
		case hasSub && typ == p.Type && sub == p.Subtype:
			return true
		}
	}
	return false
}

// dropDelimiters removes the boundary delimiter lines from a multipart's
// prologue or epilogue (RFC 2046 5.1.1).
func dropDelimiters(s, delim string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, delim) {
			b.WriteString(line)
		}
	}
	return b.String()
}
