package webmail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"path"
	"slices"
	"strconv"
	"strings"

	"gannet/internal/store"
)

const (
	maxAttachmentBytes = 25 << 20 // all attachments of one message, decoded
	maxRecipients      = 100
	maxSubject         = 1000
	maxText            = 4 << 20
)

// composeForm is a parsed compose request (multipart/form-data):
//
//	from, to, cc, bcc, subject, text
//	inReplyTo, references   thread headers copied from the original
//	answered=MID:UID        the message replied to (gets \Answered once sent)
//	draft=UID               the previous autosave in Drafts, replaced
//	attach=MID:UID:SECTION  a part of a stored message to attach (forward, draft)
//	file                    uploaded files
type composeForm struct {
	d        *draft
	rcpts    []string
	answered [2]int64 // mailbox, uid; zero when none
	draftUID uint32
}

// badRequest is a client error whose text is safe to show.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func parseAddrs(v string) ([]*mail.Address, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	list, err := mail.ParseAddressList(v)
	if err != nil {
		return nil, badRequest("invalid address list: " + headerText(v))
	}
	for _, a := range list {
		if strings.ContainsAny(a.Address, " \t\r\n<>") || !strings.Contains(a.Address, "@") {
			return nil, badRequest("invalid address: " + headerText(a.Address))
		}
	}
	return list, nil
}

// parseRef parses "MID:UID[:SECTION]".
func parseRef(v string, withSection bool) (mid int64, uid uint32, section string, ok bool) {
	parts := strings.Split(v, ":")
	if len(parts) != 2 && !(withSection && len(parts) == 3) {
		return 0, 0, "", false
	}
	m, err1 := strconv.ParseInt(parts[0], 10, 64)
	u, err2 := strconv.ParseUint(parts[1], 10, 32)
	if err1 != nil || err2 != nil || m <= 0 || u == 0 {
		return 0, 0, "", false
	}
	if len(parts) == 3 {
		section = parts[2]
	}
	return m, uint32(u), section, true
}

// parseCompose reads a compose form and loads the attachments it names.
func (s *Server) parseCompose(w http.ResponseWriter, r *http.Request) (*composeForm, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxComposeBody)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		return nil, badRequest("invalid or too large request")
	}
	defer r.MultipartForm.RemoveAll()
	f := r.MultipartForm.Value
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	sess := sessionOf(r)
	from, err := s.fromAddress(r.Context(), sess, get("from"))
	if err != nil {
		return nil, err
	}
	d := &draft{From: from, Subject: get("subject"), Text: get("text")}
	if len(d.Subject) > maxSubject || len(d.Text) > maxText {
		return nil, badRequest("message too long")
	}
	if d.To, err = parseAddrs(get("to")); err != nil {
		return nil, err
	}
	if d.Cc, err = parseAddrs(get("cc")); err != nil {
		return nil, err
	}
	if d.Bcc, err = parseAddrs(get("bcc")); err != nil {
		return nil, err
	}
	cf := &composeForm{d: d}
	for _, list := range [][]*mail.Address{d.To, d.Cc, d.Bcc} {
		for _, a := range list {
			addr := strings.ToLower(a.Address)
			if !slices.Contains(cf.rcpts, addr) {
				cf.rcpts = append(cf.rcpts, addr)
			}
		}
	}
	if len(cf.rcpts) > maxRecipients {
		return nil, badRequest("too many recipients")
	}
	idRE := msgIDPattern()
	if v := strings.TrimSpace(get("inReplyTo")); v != "" && idRE.MatchString(v) {
		d.InReplyTo = v
	}
	for _, id := range strings.Fields(get("references")) {
		if idRE.MatchString(id) && len(d.References) < 50 {
			d.References = append(d.References, id)
		}
	}
	if v := get("answered"); v != "" {
		if mid, uid, _, ok := parseRef(v, false); ok {
			cf.answered = [2]int64{mid, int64(uid)}
		}
	}
	if v, err := strconv.ParseUint(get("draft"), 10, 32); err == nil {
		cf.draftUID = uint32(v)
	}
	total := 0
	for _, ref := range f["attach"] {
		mid, uid, section, ok := parseRef(ref, true)
		if !ok {
			return nil, badRequest("invalid attachment reference")
		}
		a, err := s.loadAttachment(r.Context(), sess.accountID, mid, uid, section, maxAttachmentBytes-total)
		if err != nil {
			return nil, err
		}
		total += len(a.Data)
		d.Attachments = append(d.Attachments, a)
	}
	for _, fh := range r.MultipartForm.File["file"] {
		if total+int(fh.Size) > maxAttachmentBytes {
			return nil, badRequest("attachments too large")
		}
		file, err := fh.Open()
		if err != nil {
			return nil, fmt.Errorf("open upload: %w", err)
		}
		data, err := io.ReadAll(file)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("read upload: %w", err)
		}
		total += len(data)
		ctype := fh.Header.Get("Content-Type")
		if ctype == "" || ctype == "application/octet-stream" {
			if guess := mime.TypeByExtension(path.Ext(fh.Filename)); guess != "" {
				ctype = guess
			}
		}
		d.Attachments = append(d.Attachments, attachment{Name: fh.Filename, Type: ctype, Data: data})
	}
	return cf, nil
}

// loadAttachment reads one part of a stored message of the account.
func (s *Server) loadAttachment(ctx context.Context, acct, mid int64, uid uint32, section string, budget int) (attachment, error) {
	m, err := s.getMessage(ctx, acct, mid, uid)
	if err != nil {
		return attachment{}, err
	}
	l := analyse(m.Parsed.Body)
	p := partForSection(l, section)
	if p == nil || p.Type == "multipart" {
		return attachment{}, fmt.Errorf("part %s: %w", section, store.ErrNotFound)
	}
	data, cut, err := s.readBody(ctx, m.BlobID, p, int64(max(budget, 0)))
	if err != nil {
		return attachment{}, err
	}
	if cut {
		return attachment{}, badRequest("attachments too large")
	}
	return attachment{Name: filename(p, section), Type: p.Type + "/" + p.Subtype, Data: data}, nil
}

// fromAddress picks the From address: one of the account's own addresses
// (its login or an alias that delivers to it), the login by default.
func (s *Server) fromAddress(ctx context.Context, sess *session, want string) (string, error) {
	want = strings.ToLower(strings.TrimSpace(want))
	if want == "" || want == sess.address {
		return sess.address, nil
	}
	own, err := s.opts.Store.Addresses(ctx, sess.accountID)
	if err != nil {
		return "", fmt.Errorf("addresses: %w", err)
	}
	if !slices.Contains(own, want) {
		return "", badRequest("you cannot send from that address")
	}
	return want, nil
}

// composeError answers a compose failure.
func (s *Server) composeError(w http.ResponseWriter, r *http.Request, err error) {
	var br badRequest
	var se *SendError
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, string(br))
	case errors.As(err, &se):
		s.log.Info("webmail send refused", "user", sessionOf(r).address, "err", err)
		writeError(w, http.StatusUnprocessableEntity, se.Public)
	default:
		s.storeError(w, r, err)
	}
}

func (s *Server) handleIdentities(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	own, err := s.opts.Store.Addresses(r.Context(), sess.accountID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := []string{sess.address}
	for _, a := range own {
		if !strings.HasPrefix(a, "@") && a != sess.address {
			out = append(out, a)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSend sends a composed message, keeps a copy in Sent, marks the
// original answered and removes the draft it came from.
func (s *Server) handleSend(w http.ResponseWriter, r *http.Request) {
	cf, err := s.parseCompose(w, r)
	if err != nil {
		s.composeError(w, r, err)
		return
	}
	if len(cf.rcpts) == 0 {
		writeError(w, http.StatusBadRequest, "add at least one recipient")
		return
	}
	sess := sessionOf(r)
	ctx := r.Context()
	id := newMessageID(s.opts.Hostname)
	now := s.opts.Now()
	if err := s.opts.Sender.Send(ctx, sess.accountID, cf.d.From, cf.rcpts, cf.d.build(id, now, false)); err != nil {
		var se *SendError
		if errors.As(err, &se) {
			s.composeError(w, r, err)
			return
		}
		s.log.Error("webmail send failed", "user", sess.address, "err", err)
		writeError(w, http.StatusBadGateway, "sending failed")
		return
	}
	s.log.Info("webmail sent", "user", sess.address, "rcpts", len(cf.rcpts), "msgid", id)
	// The message is sent: from here on failures are logged, not reported
	// as a failed send (the user must not send it twice).
	if sent, err := store.SpecialMailbox(ctx, s.opts.Store, sess.accountID, store.SpecialSent); err != nil {
		s.log.Error("find Sent", "err", err)
	} else if _, err := s.opts.Store.Append(ctx, sess.accountID, sent.ID, cf.d.build(id, now, true), []string{store.FlagSeen}, now); err != nil {
		s.log.Error("save to Sent", "user", sess.address, "err", err)
	}
	if cf.answered[0] != 0 {
		set := store.UIDSet{{Lo: uint32(cf.answered[1]), Hi: uint32(cf.answered[1])}}
		if _, err := s.opts.Store.StoreFlags(ctx, sess.accountID, cf.answered[0], set, store.FlagsAdd, []string{store.FlagAnswered}, 0); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("mark answered", "err", err)
		}
	}
	if cf.draftUID != 0 {
		s.removeDraft(ctx, sess.accountID, cf.draftUID)
	}
	writeJSON(w, http.StatusOK, map[string]string{"messageId": id})
}

// removeDraft deletes a superseded autosave from Drafts.
func (s *Server) removeDraft(ctx context.Context, acct int64, uid uint32) {
	drafts, err := store.SpecialMailbox(ctx, s.opts.Store, acct, store.SpecialDrafts)
	if err != nil {
		s.log.Warn("find Drafts", "err", err)
		return
	}
	set := store.UIDSet{{Lo: uid, Hi: uid}}
	// Only a message still marked as a draft is removed.
	msgs, err := s.opts.Store.List(ctx, acct, drafts.ID, set, store.ListOptions{})
	if err != nil || len(msgs) != 1 || !hasFlag(msgs[0].Flags, store.FlagDraft) {
		return
	}
	if _, err := s.opts.Store.StoreFlags(ctx, acct, drafts.ID, set, store.FlagsAdd, []string{store.FlagDeleted}, 0); err != nil {
		s.log.Warn("remove draft", "err", err)
		return
	}
	if _, err := s.opts.Store.Expunge(ctx, acct, drafts.ID, set); err != nil {
		s.log.Warn("remove draft", "err", err)
	}
}

type draftJSON struct {
	MailboxID   int64            `json:"mailboxId"`
	UID         uint32           `json:"uid"`
	Attachments []attachmentJSON `json:"attachments"`
}

// handleSaveDraft saves the compose window to Drafts, replacing its
// previous autosave. It answers the new draft's attachments so that the
// client refers to them next time instead of uploading files again.
func (s *Server) handleSaveDraft(w http.ResponseWriter, r *http.Request) {
	cf, err := s.parseCompose(w, r)
	if err != nil {
		s.composeError(w, r, err)
		return
	}
	sess := sessionOf(r)
	ctx := r.Context()
	drafts, err := store.SpecialMailbox(ctx, s.opts.Store, sess.accountID, store.SpecialDrafts)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	now := s.opts.Now()
	raw := cf.d.build(newMessageID(s.opts.Hostname), now, true)
	res, err := s.opts.Store.Append(ctx, sess.accountID, drafts.ID, raw, []string{store.FlagDraft, store.FlagSeen}, now)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if cf.draftUID != 0 && cf.draftUID != res.UID {
		s.removeDraft(ctx, sess.accountID, cf.draftUID)
	}
	out := draftJSON{MailboxID: drafts.ID, UID: res.UID, Attachments: []attachmentJSON{}}
	if m, err := s.getMessage(ctx, sess.accountID, drafts.ID, res.UID); err == nil {
		if v, err := s.describe(ctx, m); err == nil {
			out.Attachments = v.Attachments
		}
	}
	writeJSON(w, http.StatusOK, out)
}
