package sieve

import (
	"mime"
	"strings"

	"gannet/internal/message"
)

// editheader (RFC 5293): the run works on its own copy of the header, which
// later tests see; Result.Header is the edited header.

// protectedHeader names fields a script may not add or delete: trace fields
// and the loop protection of auto-replies (RFC 5293 6, 9).
func protectedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "received", "auto-submitted":
		return true
	}
	return false
}

// validFieldName checks a field name (RFC 5322 2.2: printable ASCII but ':').
func validFieldName(s string) bool {
	if s == "" || len(s) > 997 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 32 || s[i] >= 127 || s[i] == ':' {
			return false
		}
	}
	return true
}

// addHeader prepends a field, or appends it with :last (RFC 5293 4). Values
// with non-ASCII text are RFC 2047 encoded; line breaks become spaces.
func (st *runState) addHeader(fr *frame, n *cnode) {
	name := fr.str(st, n.args[0])
	if !validFieldName(name) || protectedHeader(name) {
		return
	}
	v := strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(fr.str(st, n.args[1]))
	for i := 0; i < len(v); i++ {
		if v[i] >= 0x80 {
			v = mime.QEncoding.Encode("utf-8", v)
			break
		}
	}
	f := field{name: name, value: v}
	if n.has("last") {
		st.header = append(st.header, f)
	} else {
		st.header = append([]field{f}, st.header...)
	}
	st.edited = true
}

// deleteHeader removes fields by name, occurrence (:index, :last) and value
// patterns (RFC 5293 5).
func (st *runState) deleteHeader(fr *frame, n *cnode) {
	name := fr.str(st, n.args[0])
	if protectedHeader(name) {
		return
	}
	var patterns []string
	if n.args[1].kind != argAbsent {
		patterns = fr.list(st, n.args[1])
	}
	var idx []int // positions in st.header of the fields named name
	for i, f := range st.header {
		if strings.EqualFold(f.name, name) {
			idx = append(idx, i)
		}
	}
	if a, ok := n.tags["index"]; ok {
		k := int(min(a.num, uint64(len(idx)+1)))
		if k < 1 || k > len(idx) {
			return
		}
		if n.has("last") {
			idx = []int{idx[len(idx)-k]}
		} else {
			idx = []int{idx[k-1]}
		}
	}
	del := map[int]bool{}
	for _, i := range idx {
		if patterns == nil {
			del[i] = true
			continue
		}
		v := message.DecodeHeader(st.header[i].value)
		for _, p := range patterns {
			if ok, _, _ := matchOne(n, v, p, &st.work); ok {
				del[i] = true
				break
			}
		}
	}
	if len(del) == 0 {
		return
	}
	out := st.header[:0:0]
	for i, f := range st.header {
		if !del[i] {
			out = append(out, f)
		}
	}
	st.header = out
	st.edited = true
}

// serializeHeader writes the header back: untouched fields byte for byte,
// added ones as "Name: value", then the blank line.
func serializeHeader(h []field) []byte {
	var b strings.Builder
	for _, f := range h {
		if f.raw != "" {
			b.WriteString(f.raw)
			if !strings.HasSuffix(f.raw, "\n") {
				b.WriteString("\r\n")
			}
			continue
		}
		b.WriteString(f.name)
		b.WriteString(": ")
		b.WriteString(f.value)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}
