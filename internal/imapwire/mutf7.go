package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 for mailbox names (RFC 3501 5.1.3): printable US-ASCII
// (0x20-0x7e) stands for itself except "&", written "&-"; any other run of
// characters is "&" + modified BASE64 (RFC 2152 with "," for "/", no
// padding) of its UTF-16BE form + "-".

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

// ErrMailboxUTF7 is the error DecodeMailbox returns for a name that is not
// canonical modified UTF-7.
var ErrMailboxUTF7 = errors.New("imapwire: invalid modified UTF-7 mailbox name")

func printable(c byte) bool { return 0x20 <= c && c <= 0x7e }

// EncodeMailbox encodes a UTF-8 mailbox name as modified UTF-7. Invalid UTF-8
// octets are encoded as U+FFFD.
func EncodeMailbox(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if !printable(s[i]) || s[i] == '&' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	var units []uint16
	for i := 0; i < len(s); {
		if c := s[i]; printable(c) {
			b.WriteByte(c)
			if c == '&' {
				b.WriteByte('-')
			}
			i++
			continue
		}
		// One shifted run for all consecutive non-printable characters,
		// which keeps the encoding canonical.
		units = units[:0]
		for i < len(s) && !printable(s[i]) {
			r, n := utf8.DecodeRuneInString(s[i:])
			units = utf16.AppendRune(units, r)
			i += n
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range units {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(b64Alphabet[acc>>uint(bits)&0x3f])
			}
		}
		if bits > 0 {
			b.WriteByte(b64Alphabet[acc<<uint(6-bits)&0x3f])
		}
		b.WriteByte('-')
	}
	return b.String()
}

func b64Value(c byte) (uint32, bool) {
	switch {
	case 'A' <= c && c <= 'Z':
		return uint32(c - 'A'), true
	case 'a' <= c && c <= 'z':
		return uint32(c-'a') + 26, true
	case '0' <= c && c <= '9':
		return uint32(c-'0') + 52, true
	case c == '+':
		return 62, true
	case c == ',':
		return 63, true
	}
	return 0, false
}

// DecodeMailbox decodes a modified UTF-7 mailbox name to UTF-8. It accepts
// only the canonical form EncodeMailbox produces, so that
// EncodeMailbox(DecodeMailbox(m)) == m: it rejects octets outside printable
// US-ASCII, an "&" without "-", BASE64 for a character that can stand for
// itself (RFC 3501 5.1.3), two shifted runs in a row, bad BASE64, leftover or
// non-zero padding bits, and unpaired UTF-16 surrogates.
func DecodeMailbox(m string) (string, error) {
	plain := true
	for i := 0; i < len(m); i++ {
		if !printable(m[i]) {
			return "", ErrMailboxUTF7
		}
		if m[i] == '&' {
			plain = false
		}
	}
	if plain {
		return m, nil
	}
	var b strings.Builder
	b.Grow(len(m))
	var units []uint16
	prevShift := false
	for i := 0; i < len(m); {
		c := m[i]
		if c != '&' {
			b.WriteByte(c)
			prevShift = false
			i++
			continue
		}
		j := strings.IndexByte(m[i+1:], '-')
		if j < 0 {
			return "", ErrMailboxUTF7
		}
		seg := m[i+1 : i+1+j]
		i += j + 2
		if seg == "" {
			b.WriteByte('&')
			prevShift = false
			continue
		}
		if prevShift {
			return "", ErrMailboxUTF7
		}
		prevShift = true
		units = units[:0]
		var acc uint32
		bits := 0
		for k := 0; k < len(seg); k++ {
			v, ok := b64Value(seg[k])
			if !ok {
				return "", ErrMailboxUTF7
			}
			acc = acc<<6 | v
			bits += 6
			if bits >= 16 {
				bits -= 16
				units = append(units, uint16(acc>>uint(bits)))
				acc &= 1<<uint(bits) - 1
			}
		}
		if bits >= 6 || acc != 0 {
			return "", ErrMailboxUTF7
		}
		for k := 0; k < len(units); k++ {
			u := rune(units[k])
			r := u
			switch {
			case utf16.IsSurrogate(u):
				if k+1 == len(units) {
					return "", ErrMailboxUTF7
				}
				r = utf16.DecodeRune(u, rune(units[k+1]))
				if r == utf8.RuneError {
					return "", ErrMailboxUTF7
				}
				k++
			case u < 0x80 && printable(byte(u)):
				return "", ErrMailboxUTF7
			}
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
