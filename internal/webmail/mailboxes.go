package webmail

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"gannet/internal/store"
)

// mailboxJSON is a mailbox as the UI sees it.
type mailboxJSON struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	SpecialUse string `json:"specialUse,omitempty"`
	Messages   int64  `json:"messages"`
	Unseen     int64  `json:"unseen"`
}

func toMailboxJSON(m store.Mailbox) mailboxJSON {
	return mailboxJSON{ID: m.ID, Name: m.Name, SpecialUse: m.SpecialUse, Messages: m.Messages, Unseen: m.Unseen}
}

// specialOrder puts INBOX and the special-use folders first, in the order
// most clients show them.
func specialOrder(m store.Mailbox) int {
	if strings.EqualFold(m.Name, "INBOX") {
		return 0
	}
	switch m.SpecialUse {
	case store.SpecialDrafts:
		return 1
	case store.SpecialSent:
		return 2
	case store.SpecialArchive:
		return 3
	case store.SpecialJunk:
		return 4
	case store.SpecialTrash:
		return 5
	}
	return 6
}

// mailboxList returns the account's mailboxes in display order.
func (s *Server) mailboxList(ctx context.Context, accountID int64) ([]mailboxJSON, error) {
	mbs, err := s.opts.Store.Mailboxes(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list mailboxes: %w", err)
	}
	slices.SortStableFunc(mbs, func(a, b store.Mailbox) int {
		if d := specialOrder(a) - specialOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	out := make([]mailboxJSON, len(mbs))
	for i, m := range mbs {
		out[i] = toMailboxJSON(m)
	}
	return out, nil
}

func (s *Server) handleMailboxes(w http.ResponseWriter, r *http.Request) {
	list, err := s.mailboxList(r.Context(), sessionOf(r).accountID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

type nameRequest struct {
	Name string `json:"name"`
}

// cleanName validates a folder name typed by a user.
func cleanName(n string) (string, bool) {
	n = strings.Trim(strings.TrimSpace(n), store.Separator)
	if n == "" || len(n) > 200 || strings.ContainsAny(n, "\x00\r\n\t*%") || strings.Contains(n, "//") {
		return "", false
	}
	return n, true
}

func (s *Server) handleCreateMailbox(w http.ResponseWriter, r *http.Request) {
	var req nameRequest
	if !readJSON(w, r, &req) {
		return
	}
	name, ok := cleanName(req.Name)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid folder name")
		return
	}
	m, err := s.opts.Store.CreateMailbox(r.Context(), sessionOf(r).accountID, name, "")
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toMailboxJSON(*m))
}

// ownMailbox loads a mailbox of the session's account from the path.
func (s *Server) ownMailbox(r *http.Request) (*store.Mailbox, error) {
	mid, err := pathID(r, "mid")
	if err != nil {
		return nil, err
	}
	m, err := s.opts.Store.MailboxByID(r.Context(), sessionOf(r).accountID, mid)
	if err != nil {
		return nil, fmt.Errorf("mailbox %d: %w", mid, err)
	}
	return m, nil
}

// protected reports whether the UI may not rename or delete m: INBOX and
// the special-use folders that sending, drafts and delete rely on.
func protected(m *store.Mailbox) bool {
	return strings.EqualFold(m.Name, "INBOX") || m.SpecialUse != ""
}

func (s *Server) handleRenameMailbox(w http.ResponseWriter, r *http.Request) {
	var req nameRequest
	if !readJSON(w, r, &req) {
		return
	}
	m, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	name, ok := cleanName(req.Name)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid folder name")
		return
	}
	if protected(m) {
		writeError(w, http.StatusForbidden, "this folder cannot be renamed")
		return
	}
	acct := sessionOf(r).accountID
	if err := s.opts.Store.RenameMailbox(r.Context(), acct, m.Name, name); err != nil {
		s.storeError(w, r, err)
		return
	}
	m2, err := s.opts.Store.MailboxByID(r.Context(), acct, m.ID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toMailboxJSON(*m2))
}

func (s *Server) handleDeleteMailbox(w http.ResponseWriter, r *http.Request) {
	m, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if protected(m) {
		writeError(w, http.StatusForbidden, "this folder cannot be deleted")
		return
	}
	if err := s.opts.Store.DeleteMailbox(r.Context(), sessionOf(r).accountID, m.Name); err != nil {
		s.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleEmpty permanently removes every message of the Trash or Junk folder.
func (s *Server) handleEmpty(w http.ResponseWriter, r *http.Request) {
	m, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if m.SpecialUse != store.SpecialTrash && m.SpecialUse != store.SpecialJunk {
		writeError(w, http.StatusForbidden, "only Trash and Junk can be emptied")
		return
	}
	acct := sessionOf(r).accountID
	if _, err := s.opts.Store.StoreFlags(r.Context(), acct, m.ID, nil, store.FlagsAdd, []string{store.FlagDeleted}, 0); err != nil {
		s.storeError(w, r, err)
		return
	}
	gone, err := s.opts.Store.Expunge(r.Context(), acct, m.ID, nil)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"removed": len(gone)})
}
