package webmail

import (
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"
)

// handlePart downloads one part of a message, transfer-decoded. It is always
// an attachment download (never rendered by the browser as a page of ours):
// Content-Disposition attachment, nosniff, and a sandbox CSP in case a
// browser renders it anyway.
func (s *Server) handlePart(w http.ResponseWriter, r *http.Request) {
	m, err := s.loadMessage(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	section := r.PathValue("section")
	l := analyse(m.Parsed.Body)
	p := partForSection(l, section)
	if p == nil || p.Type == "multipart" {
		notFound(w)
		return
	}
	rc, err := s.openBody(r.Context(), m.BlobID, p)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	defer rc.Close()
	ctype := "application/octet-stream"
	if isToken(p.Type) && isToken(p.Subtype) {
		ctype = p.Type + "/" + p.Subtype
		if cs := p.Params["charset"]; p.Type == "text" && isToken(cs) {
			ctype += "; charset=" + cs
		}
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Disposition", contentDisposition(safeFilename(filename(p, section))))
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Debug("part download interrupted", "err", err)
	}
}

// safeFilename makes a name from a message safe to offer as a download: no
// path separators, no control or format characters (bidi overrides that
// disguise extensions), no leading dots, bounded length.
func safeFilename(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == '"' || r == '*' || r == '?' || r == '<' || r == '>' || r == '|':
			b.WriteRune('_')
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimLeft(strings.TrimSpace(b.String()), ".")
	if r := []rune(out); len(r) > 150 {
		out = string(r[len(r)-150:])
	}
	if out == "" {
		out = "attachment"
	}
	return out
}

// contentDisposition renders an attachment disposition; mime encodes
// non-ASCII names per RFC 2231 (filename*=utf-8”...), which browsers read.
func contentDisposition(name string) string {
	v := mime.FormatMediaType("attachment", map[string]string{"filename": name})
	if v == "" {
		return "attachment"
	}
	return v
}
