package message

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendParsed appends p as JSON, byte for byte what encoding/json writes for
// it (with SetEscapeHTML(false)): field order and omitempty as the struct
// tags say, map keys sorted, strings escaped the same way (invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped). Reflection made json.Encoder about as
// costly as parsing the message at delivery; TestAppendParsedMatchesJSON
// checks the bytes against encoding/json. Unmarshal still uses encoding/json.
func appendParsed(b []byte, p *Parsed) ([]byte, error) {
	b = append(b, `{"e":`...)
	b = appendEnvelope(b, &p.Envelope)
	b = append(b, `,"p":`...)
	b = appendPart(b, p.Body)
	if p.Subject != "" {
		b = append(b, `,"su":`...)
		b = appendString(b, p.Subject)
	}
	t, err := p.Date.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, `,"da":`...)
	b = append(b, t...)
	if p.Preview != "" {
		b = append(b, `,"pv":`...)
		b = appendString(b, p.Preview)
	}
	return append(b, '}'), nil
}

func appendEnvelope(b []byte, e *Envelope) []byte {
	b = append(b, '{')
	n := len(b)
	field := func(name string) {
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			b = appendString(b, v)
		}
	}
	addrs := func(name string, list []Address) {
		if len(list) == 0 {
			return
		}
		field(name)
		b = append(b, '[')
		for i := range list {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendAddress(b, &list[i])
		}
		b = append(b, ']')
	}
	str("d", e.Date)
	str("s", e.Subject)
	addrs("f", e.From)
	addrs("se", e.Sender)
	addrs("r", e.ReplyTo)
	addrs("t", e.To)
	addrs("c", e.Cc)
	addrs("b", e.Bcc)
	str("i", e.InReplyTo)
	str("m", e.MessageID)
	return append(b, '}')
}

func appendAddress(b []byte, a *Address) []byte {
	b = append(b, '{')
	n := len(b)
	for _, f := range [...]struct{ name, v string }{{"n", a.Name}, {"m", a.Mailbox}, {"h", a.Host}, {"a", a.Route}} {
		if f.v == "" {
			continue
		}
		if len(b) > n {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = appendString(b, f.v)
	}
	return append(b, '}')
}

func appendPart(b []byte, p *Part) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"t":`...)
	b = appendString(b, p.Type)
	b = append(b, `,"st":`...)
	b = appendString(b, p.Subtype)
	b = appendMap(b, "pa", p.Params)
	b = appendOpt(b, "id", p.ID)
	b = appendOpt(b, "de", p.Description)
	b = appendOpt(b, "en", p.Encoding)
	b = appendOpt(b, "di", p.Disposition)
	b = appendMap(b, "dp", p.DispParams)
	if len(p.Language) > 0 {
		b = append(b, `,"la":[`...)
		for i, l := range p.Language {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, l)
		}
		b = append(b, ']')
	}
	b = appendOpt(b, "lo", p.Location)
	b = appendOpt(b, "md", p.MD5)
	b = append(b, `,"hs":`...)
	b = strconv.AppendInt(b, p.HeaderStart, 10)
	b = append(b, `,"bs":`...)
	b = strconv.AppendInt(b, p.BodyStart, 10)
	b = append(b, `,"e":`...)
	b = strconv.AppendInt(b, p.End, 10)
	b = append(b, `,"l":`...)
	b = strconv.AppendInt(b, p.Lines, 10)
	if len(p.Parts) > 0 {
		b = append(b, `,"c":[`...)
		for i, c := range p.Parts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendPart(b, c)
		}
		b = append(b, ']')
	}
	if p.Envelope != nil {
		b = append(b, `,"ev":`...)
		b = appendEnvelope(b, p.Envelope)
	}
	return append(b, '}')
}

// appendOpt appends ,"name":"v" unless v is empty (omitempty).
func appendOpt(b []byte, name, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ",\""...)
	b = append(b, name...)
	b = append(b, `":`...)
	return appendString(b, v)
}

// appendMap appends ,"name":{...} with the keys sorted, unless m is empty.
func appendMap(b []byte, name string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, ",\""...)
	b = append(b, name...)
	b = append(b, `":{`...)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// appendString appends s as a JSON string the way encoding/json does
// without HTML escaping.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
