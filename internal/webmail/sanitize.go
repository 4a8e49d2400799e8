package webmail

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"gannet/internal/message"
	"gannet/internal/store"
)

// Limits on the HTML pipeline.
const (
	maxHTMLBytes   = 4 << 20 // raw HTML part read for display
	maxInlineImage = 4 << 20 // one cid: image turned into a data: URI
	maxInlineTotal = 16 << 20
)

// Attribute value patterns of the message HTML policy.
const (
	dataImageSrc   = `data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*`
	remoteImageSrc = `https?://[^\s"'<>\\]+`
)

// htmlPolicy is the strict bluemonday policy for message HTML: formatting,
// tables, links (http, https, mailto only, opened without referrer in a new
// context), images only as data: URIs of raster types (made by us from cid:
// parts) or, when the user asked, http(s) URLs; inline styles only from a
// list of properties, with values that can load nothing. No scripts, forms,
// frames, objects, SVG, MathML, event handlers, or relative URLs survive.
func htmlPolicy(allowRemote bool, css *cssFilter) *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowStandardAttributes()
	p.AllowStyling()
	p.AllowElements("a", "abbr", "address", "article", "aside", "b", "bdi", "bdo", "big", "blockquote", "br",
		"center", "cite", "code", "del", "details", "dfn", "div", "em", "figcaption", "figure", "font", "footer",
		"h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "ins", "kbd", "main", "mark", "nav", "p", "pre",
		"q", "rp", "rt", "ruby", "s", "samp", "section", "small", "span", "strike", "strong", "sub", "summary",
		"sup", "time", "tt", "u", "var", "wbr", "img")
	p.AllowLists()
	p.AllowTables()
	p.AllowAttrs("color").Matching(regexp.MustCompile(`^#?[0-9A-Za-z]{1,20}$`)).OnElements("font")
	p.AllowAttrs("face").Matching(regexp.MustCompile(`^[\w\s,'"-]{1,100}$`)).OnElements("font")
	p.AllowAttrs("size").Matching(regexp.MustCompile(`^[+-]?\d$`)).OnElements("font")
	layoutEls := []string{"table", "tr", "td", "th", "thead", "tbody", "tfoot", "col", "colgroup", "div", "p",
		"img", "h1", "h2", "h3", "h4", "h5", "h6", "center", "hr"}
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(?i:left|right|center|justify|top|middle|bottom)$`)).OnElements(layoutEls...)
	p.AllowAttrs("valign").Matching(regexp.MustCompile(`^(?i:top|middle|bottom|baseline)$`)).OnElements(layoutEls...)
	p.AllowAttrs("width", "height").Matching(bluemonday.NumberOrPercent).OnElements(layoutEls...)
	p.AllowAttrs("bgcolor").Matching(regexp.MustCompile(`^#?[0-9A-Za-z]{1,20}$`)).OnElements(layoutEls...)
	p.AllowAttrs("border", "cellpadding", "cellspacing", "colspan", "rowspan").Matching(bluemonday.Integer).OnElements(layoutEls...)
	p.AllowAttrs("alt").Matching(bluemonday.Paragraph).OnElements("img")

	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)

	src := dataImageSrc
	if allowRemote {
		src = dataImageSrc + "|" + remoteImageSrc
	}
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^(?:` + src + `)$`)).OnElements("img")
	p.AllowDataURIImages()

	p.AllowStyles(cssProperties()...).MatchingHandler(css.valueOK).Globally()
	return p
}

// sanitizer is the policy and CSS filter for one remote-content setting.
type sanitizer struct {
	policy *bluemonday.Policy
	css    *cssFilter
}

func newSanitizer(allowRemote bool) *sanitizer {
	css := newCSSFilter(allowRemote)
	return &sanitizer{policy: htmlPolicy(allowRemote, css), css: css}
}

// htmlDoc is a message's HTML made safe, ready for the sandboxed frame.
type htmlDoc struct {
	Body   string // sanitised body markup
	CSS    string // sanitised <style> content
	Remote int    // remote resources seen (blocked unless allowed)
}

// renderHTML runs the whole pipeline for an HTML part: decode, parse,
// rewrite (cid: → data:, remote URLs counted and dropped unless allowed,
// <style> extracted), then bluemonday over the result. With countOnly it
// only counts remote resources and loads no images.
func (s *Server) renderHTML(ctx context.Context, m *store.Message, l *layout, allowRemote, countOnly bool) (htmlDoc, error) {
	src, _, err := s.readText(ctx, m.BlobID, l.html, maxHTMLBytes)
	if err != nil {
		return htmlDoc{}, err
	}
	root, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return htmlDoc{}, err // x/net/html only fails on reader errors
	}
	var doc htmlDoc
	var styles []string
	budget := int64(maxInlineTotal)
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		for c := n.FirstChild; c != nil; {
			next := c.NextSibling
			if c.Type == html.ElementNode && c.DataAtom == atom.Style {
				if c.FirstChild != nil && c.FirstChild.Type == html.TextNode {
					styles = append(styles, c.FirstChild.Data)
				}
				n.RemoveChild(c)
				c = next
				continue
			}
			if c.Type == html.ElementNode {
				s.rewriteAttrs(ctx, c, m, l, allowRemote, countOnly, &doc, &budget)
			}
			walk(c)
			c = next
		}
	}
	walk(root)
	if countOnly {
		for _, st := range styles {
			doc.Remote += strings.Count(strings.ToLower(st), "url(")
		}
		return doc, nil
	}
	var sb strings.Builder
	if err := html.Render(&sb, root); err != nil {
		return htmlDoc{}, err
	}
	san := s.strict
	if allowRemote {
		san = s.remote
	}
	doc.Body = san.policy.Sanitize(sb.String())
	doc.CSS = san.css.sanitize(strings.Join(styles, "\n"))
	return doc, nil
}

// rewriteAttrs rewrites the URL attributes of one element before the
// policy runs: the policy then only ever sees data: images we built, and
// remote URLs only when the user allowed them.
func (s *Server) rewriteAttrs(ctx context.Context, n *html.Node, m *store.Message, l *layout, allowRemote, countOnly bool, doc *htmlDoc, budget *int64) {
	kept := n.Attr[:0]
	for _, a := range n.Attr {
		key := strings.ToLower(a.Key)
		val := strings.TrimSpace(a.Val)
		lower := strings.ToLower(val)
		remote := strings.HasPrefix(lower, "http:") || strings.HasPrefix(lower, "https:") || strings.HasPrefix(lower, "//")
		switch {
		case key == "src" && n.DataAtom == atom.Img && strings.HasPrefix(lower, "cid:"):
			if countOnly {
				kept = append(kept, a)
				continue
			}
			if uri := s.cidDataURI(ctx, m, l, val[4:], budget); uri != "" {
				a.Val = uri
				kept = append(kept, a)
			}
			continue
		case key == "src" || key == "background" || key == "poster" || key == "srcset" || key == "data" || key == "lowsrc" || key == "dynsrc":
			if remote || key == "srcset" {
				doc.Remote++
				if allowRemote && remote && !strings.HasPrefix(lower, "//") && key == "src" {
					kept = append(kept, a)
				}
			}
			continue
		case key == "style":
			doc.Remote += strings.Count(lower, "url(")
		}
		kept = append(kept, a)
	}
	n.Attr = kept
}

// cidDataURI returns the inline part named by a cid: URL (RFC 2392) as a
// data: URI, if it is a raster image within the size budget.
func (s *Server) cidDataURI(ctx context.Context, m *store.Message, l *layout, cid string, budget *int64) string {
	cid = strings.Trim(urlUnescape(cid), "<>")
	p := l.cids[cid]
	if p == nil || p.Type != "image" {
		return ""
	}
	switch p.Subtype {
	case "png", "jpeg", "gif", "webp":
	case "jpg", "pjpeg":
		// Common mislabels of JPEG.
	default:
		return ""
	}
	b, cut, err := s.readBody(ctx, m.BlobID, p, min(maxInlineImage, *budget))
	if err != nil || cut {
		return ""
	}
	*budget -= int64(len(b))
	sub := p.Subtype
	if sub == "jpg" || sub == "pjpeg" {
		sub = "jpeg"
	}
	return "data:image/" + sub + ";base64," + base64.StdEncoding.EncodeToString(b)
}

// urlUnescape undoes %-escapes in a cid: URL (RFC 2392 2), leaving bad ones.
func urlUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
			b.WriteByte(unhexDigit(s[i+1])<<4 | unhexDigit(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhexDigit(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// textOfHTML extracts readable text from HTML, for replies to HTML-only mail.
func textOfHTML(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return strings.TrimSpace(collapseBlank(b.String()))
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title":
				skip++
			case "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table":
				b.WriteString("\n")
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "script", "style", "head", "title":
				skip = max(0, skip-1)
			case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "table":
				b.WriteString("\n")
			}
		case html.TextToken:
			if skip == 0 {
				b.WriteString(strings.Join(strings.Fields(string(z.Text())), " "))
				if t := z.Text(); len(t) > 0 && (t[len(t)-1] == ' ' || t[len(t)-1] == '\n') {
					b.WriteString(" ")
				}
			}
		}
	}
}

// collapseBlank squeezes runs of blank lines to one.
func collapseBlank(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// partForSection resolves a section name from a part URL.
func partForSection(l *layout, section string) *message.Part {
	for p, name := range l.sections {
		if name == section {
			return p
		}
	}
	return nil
}
