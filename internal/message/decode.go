package message

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
	"golang.org/x/text/encoding/charmap"
)

// DecodeHeader decodes RFC 2047 encoded-words in a header value to UTF-8,
// leniently: whitespace between adjacent encoded-words is dropped (RFC 2047
// 6.2); adjacent words in the same charset are joined before conversion, so a
// multi-byte character split across two words survives; malformed words and
// words in unknown charsets are left as written; 8-bit text that is not UTF-8
// is read as windows-1252. The result is always valid UTF-8.
func DecodeHeader(v string) string {
	if !strings.Contains(v, "=?") {
		return convert8bit([]byte(v))
	}
	var out strings.Builder
	var pend []byte // decoded bytes of a run of adjacent words in one charset
	var pendCS string
	flush := func() {
		if pend != nil {
			s, _ := convert(pendCS, pend)
			out.WriteString(s)
			pend, pendCS = nil, ""
		}
	}
	afterWord := false
	for v != "" {
		j := strings.Index(v, "=?")
		if j < 0 {
			break
		}
		between := v[:j]
		w, n, ok := parseWord(v[j:])
		if !ok {
			flush()
			out.WriteString(convert8bit([]byte(v[:j+2])))
			v = v[j+2:]
			afterWord = false
			continue
		}
		if !afterWord || strings.Trim(between, " \t\r\n") != "" {
			flush()
			out.WriteString(convert8bit([]byte(between)))
		}
		if !knownCharset(w.charset) {
			flush()
			out.WriteString(convert8bit([]byte(v[j : j+n])))
		} else {
			if pend != nil && !strings.EqualFold(pendCS, w.charset) {
				flush()
			}
			if w.enc == 'b' {
				pend = append(pend, decodeBase64([]byte(w.text))...)
			} else {
				pend = append(pend, decodeQWord(w.text)...)
			}
			if pend == nil {
				pend = []byte{}
			}
			pendCS = w.charset
		}
		afterWord = true
		v = v[j+n:]
	}
	flush()
	out.WriteString(convert8bit([]byte(v)))
	return out.String()
}

type encodedWord struct {
	charset string
	enc     byte // 'b' or 'q'
	text    string
}

// parseWord parses "=?charset?enc?text?=" (RFC 2047 2) at the start of s and
// returns its length. The charset may carry an RFC 2231 5 "*lang" suffix.
// Spaces inside text are tolerated (a common breakage), line breaks are not.
func parseWord(s string) (encodedWord, int, bool) {
	var w encodedWord
	k := strings.IndexByte(s[2:], '?')
	if k <= 0 || k > 64 {
		return w, 0, false
	}
	k += 2
	w.charset = s[2:k]
	if i := strings.IndexByte(w.charset, '*'); i >= 0 {
		w.charset = w.charset[:i]
	}
	if w.charset == "" || strings.ContainsAny(w.charset, " \t\r\n=") {
		return w, 0, false
	}
	if len(s) < k+3 || s[k+2] != '?' {
		return w, 0, false
	}
	switch s[k+1] {
	case 'b', 'B':
		w.enc = 'b'
	case 'q', 'Q':
		w.enc = 'q'
	default:
		return w, 0, false
	}
	rest := s[k+3:]
	// The text cannot run past the next "=?" (that starts another word), so
	// search for "?=" only up to there: each byte is scanned a bounded number
	// of times however many "=?" a hostile value holds.
	window := rest
	if nx := strings.Index(rest, "=?"); nx >= 0 {
		// A terminator may overlap it: "?=?" or, after base64 padding, "=?=".
		window = rest[:min(len(rest), nx+3)]
	}
	e := strings.Index(window, "?=")
	if e < 0 || strings.ContainsAny(rest[:e], "\r\n") {
		return w, 0, false
	}
	w.text = rest[:e]
	return w, k + 3 + e + 2, true
}

// decodeQWord decodes RFC 2047 4.2 "Q" encoding.
func decodeQWord(s string) []byte {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			b = append(b, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return b
}

// isDefaultCharset reports whether cs names no real charset beyond ASCII, or
// one of the labels mailers use for "I don't know"; such text is taken as
// UTF-8 when valid and windows-1252 otherwise.
func isDefaultCharset(cs string) bool {
	switch cs {
	case "", "us-ascii", "ascii", "ansi_x3.4-1968", "iso-646-us", "unknown-8bit",
		"x-unknown", "unknown", "default", "8bit", "7bit", "none":
		return true
	}
	return false
}

func isUTF8Charset(cs string) bool { return cs == "utf-8" || cs == "utf8" }

func knownCharset(cs string) bool {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if isDefaultCharset(cs) || isUTF8Charset(cs) {
		return true
	}
	_, err := charset.Reader(cs, bytes.NewReader(nil))
	return err == nil
}

// convert converts b from charset cs to valid UTF-8. It reports false when the
// charset is unknown; the text is then converted as by convert8bit.
func convert(cs string, b []byte) (string, bool) {
	cs = strings.ToLower(strings.TrimSpace(cs))
	switch {
	case isDefaultCharset(cs):
		return convert8bit(b), true
	case isUTF8Charset(cs):
		return strings.ToValidUTF8(string(b), "\uFFFD"), true
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return convert8bit(b), false
	}
	out, _ := io.ReadAll(r) // a decoding error keeps what was converted so far
	return strings.ToValidUTF8(string(out), "\uFFFD"), true
}

// convert8bit returns b as a string if it is valid UTF-8 (which includes
// ASCII and RFC 6532 headers) and reads it as windows-1252 otherwise, the
// usual charset of undeclared 8-bit mail.
func convert8bit(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// DecodeText transfer-decodes (RFC 2045 6) the body of p and converts it from
// its charset parameter to UTF-8. It is meant for text parts (search, webmail
// display) but accepts any part. The returned string is always valid UTF-8
// and best effort: err reports an unknown transfer encoding or charset, in
// which case the undecoded bytes or the windows-1252/UTF-8 guess are returned.
func DecodeText(raw []byte, p *Part) (string, error) {
	start, end := clamp(raw, p.BodyStart, p.End)
	b, ok := transferDecode(p.Encoding, raw[start:end], -1)
	var err error
	if !ok {
		err = fmt.Errorf("decode text: unknown transfer encoding %q", p.Encoding)
	}
	cs := p.Params["charset"]
	s, ok := convert(cs, b)
	if !ok && err == nil {
		err = fmt.Errorf("decode text: unknown charset %q", cs)
	}
	return s, err
}

// transferDecode undoes a Content-Transfer-Encoding. With limit >= 0 at most
// about limit decoded bytes are produced, reading only as much input as that
// needs. It reports false for an encoding it does not know (b is returned).
func transferDecode(enc string, b []byte, limit int) ([]byte, bool) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "base64":
		if limit >= 0 && len(b) > limit*2 {
			b = b[:limit*2]
		}
		return decodeBase64(b), true
	case "quoted-printable":
		if limit >= 0 && len(b) > limit*3 {
			b = b[:limit*3]
		}
		return decodeQP(b), true
	case "", "7bit", "8bit", "binary":
		if limit >= 0 && len(b) > limit {
			b = b[:limit]
		}
		return b, true
	}
	if limit >= 0 && len(b) > limit {
		b = b[:limit]
	}
	return b, false
}

// decodeBase64 decodes RFC 2045 6.8 base64 leniently: characters outside the
// alphabet (line breaks, spaces, junk) are ignored, '=' ends a quantum (so
// separately padded chunks concatenate), a dangling sixth of a byte is dropped.
func decodeBase64(src []byte) []byte {
	out := make([]byte, 0, len(src)*3/4+3)
	var q uint32
	n := 0
	flush := func() {
		switch n {
		case 2:
			out = append(out, byte(q>>4))
		case 3:
			out = append(out, byte(q>>10), byte(q>>2))
		}
		q, n = 0, 0
	}
	for _, c := range src {
		var v byte
		switch {
		case 'A' <= c && c <= 'Z':
			v = c - 'A'
		case 'a' <= c && c <= 'z':
			v = c - 'a' + 26
		case '0' <= c && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		case c == '=':
			flush()
			continue
		default:
			continue
		}
		q = q<<6 | uint32(v)
		n++
		if n == 4 {
			out = append(out, byte(q>>16), byte(q>>8), byte(q))
			q, n = 0, 0
		}
	}
	flush()
	return out
}

// decodeQP decodes RFC 2045 6.7 quoted-printable leniently: "=" followed by
// optional whitespace and a line break is a soft line break, "=XX" is a byte
// (either hex case), any other "=" is kept literally.
func decodeQP(src []byte) []byte {
	out := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		if i+2 < len(src) && isHex(src[i+1]) && isHex(src[i+2]) {
			out = append(out, unhex(src[i+1])<<4|unhex(src[i+2]))
			i += 2
			continue
		}
		j := i + 1
		for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
			j++
		}
		switch {
		case j == len(src):
			i = j - 1 // soft break at the very end
		case src[j] == '\n':
			i = j
		case src[j] == '\r' && j+1 < len(src) && src[j+1] == '\n':
			i = j + 1
		default:
			out = append(out, c)
		}
	}
	return out
}
