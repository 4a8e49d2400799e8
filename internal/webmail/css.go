package webmail

import (
	"regexp"
	"strings"

	"github.com/gorilla/css/scanner"
)

// cssProperties are the inline style properties message HTML may keep.
// Nothing here can position content over the reader's UI or run code; the
// values are checked by cssFilter.valueOK.
func cssProperties() []string {
	return []string{
		"color", "background", "background-color", "background-image", "background-repeat", "background-position",
		"background-size", "font", "font-family", "font-size", "font-weight", "font-style", "font-variant",
		"text-align", "text-decoration", "text-transform", "text-indent", "line-height", "letter-spacing",
		"word-spacing", "vertical-align", "white-space", "word-break", "word-wrap", "overflow-wrap", "direction",
		"margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
		"padding", "padding-top", "padding-right", "padding-bottom", "padding-left",
		"border", "border-top", "border-right", "border-bottom", "border-left", "border-color", "border-style",
		"border-width", "border-radius", "border-collapse", "border-spacing",
		"width", "height", "max-width", "min-width", "max-height", "min-height",
		"display", "table-layout", "list-style-type", "opacity", "box-sizing", "float", "clear", "overflow",
		"text-overflow",
	}
}

// cssFilter checks and rewrites message CSS, for one setting of remote content.
type cssFilter struct {
	allowRemote bool
	// remoteURL matches a CSS url() with a plain http(s) URL and nothing
	// that could escape it.
	remoteURL *regexp.Regexp
}

func newCSSFilter(allowRemote bool) *cssFilter {
	return &cssFilter{
		allowRemote: allowRemote,
		remoteURL:   regexp.MustCompile(`(?i)url\(\s*['"]?https?://[^\s'"()\\<>]+['"]?\s*\)`),
	}
}

// valueOK accepts an inline style value only if it can load nothing
// (or, once the user allowed remote content, only plain http(s) images) and
// uses no escapes, which could otherwise disguise any of the above.
func (f *cssFilter) valueOK(v string) bool {
	l := strings.ToLower(v)
	for _, bad := range []string{`\`, "expression", "javascript", "@", "<", "image-set", "element(", "var(",
		"attr(", "env(", "paint(", "cross-fade(", "-moz-binding", "behavior"} {
		if strings.Contains(l, bad) {
			return false
		}
	}
	if strings.Contains(l, "url(") {
		if !f.allowRemote {
			return false
		}
		return !strings.Contains(strings.ToLower(f.remoteURL.ReplaceAllString(v, "")), "url(")
	}
	return len(v) <= 2000
}

// sanitize rewrites the content of a message's <style> elements: it drops
// @import, @font-face and similar at-rules, replaces every url() (or, when
// remote content is allowed, every url() that is not a plain http(s) URL)
// with "none", neutralises functions that load or compute resources, drops
// every token with an escape, and escapes "<" so the text cannot end its
// <style> element. The frame's CSP blocks loads anyway: this is the second
// line.
func (f *cssFilter) sanitize(src string) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	sc := scanner.New(src)
	var b strings.Builder
	skipTo := "" // after a dropped at-rule: skip until ";" or a whole block
	depth := 0
	skipDecl := false // after a token with an escape: drop the rest of the declaration
	for {
		t := sc.Next()
		if t.Type == scanner.TokenEOF || t.Type == scanner.TokenError {
			break
		}
		if skipDecl {
			if t.Type == scanner.TokenChar && (t.Value == ";" || t.Value == "}") {
				skipDecl = false
				b.WriteString(t.Value)
			}
			continue
		}
		if skipTo != "" {
			switch {
			case t.Type == scanner.TokenChar && t.Value == "{":
				depth++
			case t.Type == scanner.TokenChar && t.Value == "}":
				depth--
				if depth <= 0 {
					skipTo, depth = "", 0
				}
			case t.Type == scanner.TokenChar && t.Value == ";" && depth == 0:
				skipTo = ""
			}
			continue
		}
		if strings.Contains(t.Value, `\`) {
			skipDecl = true
			continue
		}
		switch t.Type {
		case scanner.TokenAtKeyword:
			switch strings.ToLower(t.Value) {
			case "@media", "@supports":
				b.WriteString(t.Value)
			default:
				// @import, @font-face, @namespace, @charset, @page, @keyframes...
				skipTo = t.Value
			}
		case scanner.TokenURI:
			if f.allowRemote && f.remoteURL.MatchString(t.Value) {
				b.WriteString(t.Value)
			} else {
				b.WriteString("none")
			}
		case scanner.TokenFunction:
			switch strings.ToLower(strings.TrimSuffix(t.Value, "(")) {
			case "url", "expression", "image-set", "-webkit-image-set", "element", "paint", "cross-fade",
				"-webkit-cross-fade", "image", "var", "env", "attr", "src":
				b.WriteString("invalid(")
			default:
				b.WriteString(t.Value)
			}
		case scanner.TokenCDO, scanner.TokenCDC, scanner.TokenBOM, scanner.TokenComment:
		default:
			b.WriteString(t.Value)
		}
	}
	return strings.ReplaceAll(b.String(), "<", `\3c `)
}
