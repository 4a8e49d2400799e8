package webmail

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gannet/internal/message"
	"gannet/internal/store"
)

const maxTextBytes = 2 << 20 // plain text shown in the reading pane

type addrJSON struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

func addrs(list []message.Address) []addrJSON {
	out := []addrJSON{}
	for _, a := range list {
		if a.Host == "" {
			continue // group syntax markers (RFC 5322 3.4)
		}
		out = append(out, addrJSON{Name: a.Name, Email: a.Mailbox + "@" + a.Host})
	}
	return out
}

type attachmentJSON struct {
	Section  string `json:"section"`
	Filename string `json:"filename"`
	Type     string `json:"type"`
	Size     int64  `json:"size"` // encoded size, an estimate of the file's
}

// messageJSON is one message opened in the reading pane.
type messageJSON struct {
	MailboxID    int64            `json:"mailboxId"`
	UID          uint32           `json:"uid"`
	Flags        []string         `json:"flags"`
	Subject      string           `json:"subject"`
	From         []addrJSON       `json:"from"`
	To           []addrJSON       `json:"to"`
	Cc           []addrJSON       `json:"cc"`
	Bcc          []addrJSON       `json:"bcc"`
	ReplyTo      []addrJSON       `json:"replyTo"`
	Date         time.Time        `json:"date"`
	MessageID    string           `json:"messageId,omitempty"`
	References   string           `json:"references,omitempty"`
	Text         string           `json:"text"`
	TextCut      bool             `json:"textTruncated,omitempty"`
	HTML         bool             `json:"html"`
	RemoteImages int              `json:"remoteImages"`
	Attachments  []attachmentJSON `json:"attachments"`
}

// loadMessage reads one message with its parse results, checking that the
// mailbox belongs to the session's account.
func (s *Server) loadMessage(r *http.Request) (*store.Message, error) {
	mid, err := pathID(r, "mid")
	if err != nil {
		return nil, err
	}
	uid, err := pathUID(r)
	if err != nil {
		return nil, err
	}
	return s.getMessage(r.Context(), sessionOf(r).accountID, mid, uid)
}

func (s *Server) getMessage(ctx context.Context, accountID, mid int64, uid uint32) (*store.Message, error) {
	msgs, err := s.opts.Store.List(ctx, accountID, mid, store.UIDSet{{Lo: uid, Hi: uid}}, store.ListOptions{Parsed: true})
	if err != nil {
		return nil, fmt.Errorf("message %d/%d: %w", mid, uid, err)
	}
	if len(msgs) != 1 || msgs[0].UID != uid {
		return nil, fmt.Errorf("message %d/%d: %w", mid, uid, store.ErrNotFound)
	}
	return &msgs[0], nil
}

func messageDate(m *store.Message) time.Time {
	if !m.Parsed.Date.IsZero() {
		return m.Parsed.Date
	}
	return m.InternalDate
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) {
	m, err := s.loadMessage(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out, err := s.describe(r.Context(), m)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// describe builds the reading-pane view of a message.
func (s *Server) describe(ctx context.Context, m *store.Message) (*messageJSON, error) {
	p := m.Parsed
	env := p.Envelope
	out := &messageJSON{
		MailboxID: m.MailboxID, UID: m.UID, Flags: nonNil(m.Flags), Subject: p.Subject,
		From: addrs(env.From), To: addrs(env.To), Cc: addrs(env.Cc), Bcc: addrs(env.Bcc), ReplyTo: addrs(env.ReplyTo),
		Date: messageDate(m), MessageID: env.MessageID, Attachments: []attachmentJSON{},
	}
	fields, err := s.headerFields(ctx, m)
	if err != nil {
		return nil, err
	}
	out.References = headerValue(fields, "References")
	l := analyse(p.Body)
	switch {
	case l.text != nil:
		out.Text, out.TextCut, err = s.readText(ctx, m.BlobID, l.text, maxTextBytes)
	case l.html != nil:
		var src string
		src, out.TextCut, err = s.readText(ctx, m.BlobID, l.html, maxHTMLBytes)
		out.Text = textOfHTML(src)
	}
	if err != nil {
		return nil, err
	}
	// The UI splits lines on LF; mail has CRLF (RFC 5322 2.3).
	out.Text = strings.ReplaceAll(out.Text, "\r\n", "\n")
	if l.html != nil {
		out.HTML = true
		doc, err := s.renderHTML(ctx, m, l, false, true)
		if err != nil {
			return nil, err
		}
		out.RemoteImages = doc.Remote
	}
	for _, a := range l.attachments {
		sec := l.sections[a]
		out.Attachments = append(out.Attachments, attachmentJSON{
			Section: sec, Filename: filename(a, sec), Type: a.Type + "/" + a.Subtype, Size: a.End - a.BodyStart,
		})
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// bodyCSP confines a message's HTML document: no script, no frame, no form,
// no font, no connection; images only from data: URIs unless the user
// allowed remote ones; the CSP sandbox applies even when the URL is opened
// directly rather than in the app's sandboxed iframe.
func bodyCSP(allowRemote bool) string {
	img := "data:"
	if allowRemote {
		img = "data: https: http:"
	}
	return "default-src 'none'; img-src " + img + "; style-src 'unsafe-inline'; form-action 'none'; " +
		"base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
}

// handleBody serves the sanitised HTML body as a document for the reading
// pane's sandboxed iframe. ?remote=1 lets remote images load.
func (s *Server) handleBody(w http.ResponseWriter, r *http.Request) {
	m, err := s.loadMessage(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	l := analyse(m.Parsed.Body)
	if l.html == nil {
		notFound(w)
		return
	}
	allowRemote := r.URL.Query().Get("remote") == "1"
	doc, err := s.renderHTML(r.Context(), m, l, allowRemote, false)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", bodyCSP(allowRemote))
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	var b strings.Builder
	b.WriteString(`<!doctype html><html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">`)
	b.WriteString(`<style>html{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;` +
		`overflow-wrap:anywhere}body{margin:0;padding:4px 2px}img{max-width:100%;height:auto}` +
		`table{max-width:100%}pre{white-space:pre-wrap}blockquote{margin:0 0 0 .8em;padding-left:.8em;border-left:3px solid #d0d7de}</style>`)
	if doc.CSS != "" {
		b.WriteString("<style>")
		b.WriteString(doc.CSS)
		b.WriteString("</style>")
	}
	b.WriteString("</head><body>")
	b.WriteString(doc.Body)
	b.WriteString("</body></html>")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(b.String()))
}

// hasFlag reports whether flags contain f.
func hasFlag(flags []string, f string) bool { return slices.Contains(flags, f) }
