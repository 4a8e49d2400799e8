package message

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// Preview sizes: PreviewRunes of text are kept; at most this much decoded
// body is read to find them (HTML wastes a lot on markup and style sheets).
const (
	PreviewRunes      = 256
	previewPlainBytes = 4 << 10
	previewHTMLBytes  = 64 << 10
	previewTries      = 4 // candidate parts tried when earlier ones are empty
)

// preview returns up to PreviewRunes runes of plain text: from the first
// non-attachment text/plain part, else the first text/html one with markup
// removed, looking inside embedded messages only when the message itself has
// neither. Transfer encoding and charset are decoded, whitespace and control
// characters collapse to single spaces.
func preview(raw []byte, root *Part) string {
	tries := 0
	for _, embedded := range []bool{false, true} {
		for _, sub := range []string{"plain", "html"} {
			var cands []*Part
			findText(root, sub, embedded, &cands)
			for _, p := range cands {
				if tries++; tries > previewTries {
					return ""
				}
				if s := partPreview(raw, p, sub == "html"); s != "" {
					return s
				}
			}
		}
	}
	return ""
}

// findText appends the text/sub parts below p that are not attachments, in
// order. With embedded, only parts inside embedded messages are wanted.
func findText(p *Part, sub string, embedded bool, out *[]*Part) {
	findTextIn(p, sub, embedded, false, out)
}

func findTextIn(p *Part, sub string, embedded, inside bool, out *[]*Part) {
	if len(*out) >= previewTries || p.Disposition == "attachment" {
		return
	}
	if p.Type == "text" && p.Subtype == sub && inside == embedded {
		*out = append(*out, p)
	}
	for _, c := range p.Parts {
		findTextIn(c, sub, embedded, inside || p.IsMessage(), out)
	}
}

func partPreview(raw []byte, p *Part, isHTML bool) string {
	limit := previewPlainBytes
	if isHTML {
		limit = previewHTMLBytes
	}
	start, end := clamp(raw, p.BodyStart, p.End)
	b, _ := transferDecode(p.Encoding, raw[start:end], limit)
	if !isHTML {
		if s, ok := asciiPreview(b, p.Params["charset"]); ok {
			return s
		}
	}
	cut := len(b) > limit
	if cut {
		b = b[:limit]
	}
	s, _ := convert(p.Params["charset"], b)
	if cut {
		// The cut may have split a character: drop the replacement it became.
		s = strings.TrimSuffix(s, "\uFFFD")
	}
	if isHTML {
		s = htmlText(s, 4*PreviewRunes)
	}
	return collapse(s, PreviewRunes)
}

// htmlText returns the text content of an HTML document, entities decoded,
// without script, style and title content; tags become spaces. It stops once
// it holds about want runes of text.
func htmlText(s string, want int) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0
	for b.Len() < 4*want {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken:
			if isHiddenTag(z) {
				skip++
			}
			b.WriteByte(' ')
		case html.EndTagToken:
			if isHiddenTag(z) && skip > 0 {
				skip--
			}
			b.WriteByte(' ')
		case html.SelfClosingTagToken:
			b.WriteByte(' ')
		}
	}
	return b.String()
}

func isHiddenTag(z *html.Tokenizer) bool {
	name, _ := z.TagName()
	switch string(name) {
	case "script", "style", "title", "template":
		return true
	}
	return false
}

// collapse trims s, turns every run of whitespace and control characters into
// one space, drops zero-width characters and keeps at most n runes.
func collapse(s string, n int) string {
	out, _ := collapseFull(s, n)
	return out
}

// asciiPrefix bounds what asciiPreview reads: 4 bytes per rune of the preview.
const asciiPrefix = 4 * PreviewRunes

// asciiPreview is the preview of a plain text part whose first bytes are
// ASCII, read from those bytes only: for the charsets it accepts (the default
// and UTF-8) every way convert may read the whole text, as UTF-8 or as
// windows-1252, maps ASCII to itself, and collapse reads runes in order, so
// once the ASCII prefix has filled the preview the rest cannot change it.
// Converting and copying up to 4 KB of text that the preview does not use
// was most of the cost of a preview at delivery. ok is false when the prefix
// neither fills it nor is the whole text; partPreview then reads the text as
// before.
func asciiPreview(b []byte, cs string) (string, bool) {
	cs = strings.ToLower(strings.TrimSpace(cs))
	if !isDefaultCharset(cs) && !isUTF8Charset(cs) {
		return "", false
	}
	whole := min(len(b), previewPlainBytes) // what partPreview reads
	n := min(whole, asciiPrefix)
	for i := 0; i < n; i++ {
		if b[i] >= utf8.RuneSelf {
			n = i
			break
		}
	}
	s, full := collapseFull(string(b[:n]), PreviewRunes)
	// A short ASCII text is read whole here: nothing is left to change it.
	return s, full || n == whole
}

// collapseFull is collapse; full reports that the preview filled before the
// end of s, so that more text after s could not have changed it.
func collapseFull(s string, n int) (out string, full bool) {
	var b strings.Builder
	b.Grow(min(len(s), 4*n))
	count := 0
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError || unicode.IsSpace(r) || unicode.IsControl(r):
			space = count > 0
			continue
		case r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' ||
			r == '\ufeff' || r == '\u034f' || r == '\u00ad':
			continue
		}
		if space {
			if count+1 >= n {
				full = true
				break
			}
			b.WriteByte(' ')
			count++
			space = false
		}
		b.WriteRune(r)
		if count++; count >= n {
			full = true
			break
		}
	}
	return b.String(), full
}
