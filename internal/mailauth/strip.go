package mailauth

import "strings"

// StripResults removes from a received message every Authentication-Results
// header field whose authserv-id is one of ours, keeping all other fields and
// every other byte as received. RFC 8601 5: a border MTA MUST remove such
// fields arriving from outside, or a forger could claim that we had
// authenticated the message. Fields naming other authserv-ids are kept, as
// are fields whose id cannot be read at all (they claim nothing of ours).
// When nothing is removed, raw itself is returned.
func StripResults(raw []byte, authservIDs ...string) []byte {
	fields, end := splitHeader(raw)
	drop := make([]bool, len(fields))
	found := false
	for i, f := range fields {
		if strings.EqualFold(f.name, resultsField) && ours(authservID(f.value()), authservIDs) {
			drop[i], found = true, true
		}
	}
	if !found {
		return raw
	}
	out := make([]byte, 0, len(raw))
	for i, f := range fields {
		if !drop[i] {
			out = append(out, f.raw...)
		}
	}
	return append(out, raw[end:]...)
}

func ours(id string, authservIDs []string) bool {
	if id == "" {
		return false
	}
	id = strings.TrimSuffix(id, ".")
	for _, o := range authservIDs {
		if strings.EqualFold(id, strings.TrimSuffix(o, ".")) {
			return true
		}
	}
	return false
}

// authservID extracts the authserv-id from an Authentication-Results field
// body (RFC 8601 2.2: [CFWS] authserv-id, where authserv-id is a value, a
// token or a quoted-string). It returns "" if there is none.
func authservID(v string) string {
	v = skipCFWS(v)
	if strings.HasPrefix(v, `"`) {
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i+1 < len(v) {
					i++
					b.WriteByte(v[i])
				}
			case '"':
				return b.String()
			default:
				b.WriteByte(v[i])
			}
		}
		return b.String() // unterminated: take what is there
	}
	end := strings.IndexAny(v, " \t\r\n;()\"")
	if end < 0 {
		end = len(v)
	}
	return v[:end]
}

// skipCFWS skips folding white space and (nested) comments (RFC 5322 3.2.2).
func skipCFWS(v string) string {
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && depth > 0:
			i++ // quoted-pair inside a comment
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0, c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			return v[i:]
		}
	}
	return ""
}
