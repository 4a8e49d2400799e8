package webmail

import (
	"net/http"

	"gannet/internal/store"
)

// userFlags are the flags the UI may set or clear. \Deleted is not among
// them: deleting goes through Trash; \Draft is set only by saving a draft.
func userFlag(f string) bool {
	switch f {
	case store.FlagSeen, store.FlagFlagged, store.FlagAnswered:
		return true
	}
	return false
}

type flagsRequest struct {
	UIDs   []uint32 `json:"uids"`
	Add    []string `json:"add"`
	Remove []string `json:"remove"`
}

// checkUIDs validates the UIDs of a bulk action.
func checkUIDs(w http.ResponseWriter, uids []uint32) bool {
	if len(uids) == 0 || len(uids) > maxUIDs {
		writeError(w, http.StatusBadRequest, "select between 1 and 10000 messages")
		return false
	}
	return true
}

// handleFlags marks messages read/unread, flagged/unflagged, answered.
func (s *Server) handleFlags(w http.ResponseWriter, r *http.Request) {
	var req flagsRequest
	if !readJSON(w, r, &req) {
		return
	}
	m, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if !checkUIDs(w, req.UIDs) {
		return
	}
	for _, f := range append(append([]string{}, req.Add...), req.Remove...) {
		if !userFlag(f) {
			writeError(w, http.StatusBadRequest, "invalid flag")
			return
		}
	}
	acct := sessionOf(r).accountID
	set := uidSet(req.UIDs)
	if len(req.Add) > 0 {
		if _, err := s.opts.Store.StoreFlags(r.Context(), acct, m.ID, set, store.FlagsAdd, req.Add, 0); err != nil {
			s.storeError(w, r, err)
			return
		}
	}
	if len(req.Remove) > 0 {
		if _, err := s.opts.Store.StoreFlags(r.Context(), acct, m.ID, set, store.FlagsRemove, req.Remove, 0); err != nil {
			s.storeError(w, r, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

type moveRequest struct {
	UIDs []uint32 `json:"uids"`
	To   int64    `json:"to"`
}

// handleMove moves messages to another mailbox of the same account. A
// destination of another account is refused by the store as not found.
func (s *Server) handleMove(w http.ResponseWriter, r *http.Request) {
	var req moveRequest
	if !readJSON(w, r, &req) {
		return
	}
	m, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if !checkUIDs(w, req.UIDs) {
		return
	}
	acct := sessionOf(r).accountID
	dst, err := s.opts.Store.MailboxByID(r.Context(), acct, req.To)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if dst.ID == m.ID {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if _, err := s.opts.Store.Move(r.Context(), acct, m.ID, uidSet(req.UIDs), dst.ID); err != nil {
		s.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

type uidsRequest struct {
	UIDs []uint32 `json:"uids"`
}

// handleDelete moves messages to Trash; in Trash (or Junk) it removes them
// for good.
func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	var req uidsRequest
	if !readJSON(w, r, &req) {
		return
	}
	m, err := s.ownMailbox(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if !checkUIDs(w, req.UIDs) {
		return
	}
	acct := sessionOf(r).accountID
	set := uidSet(req.UIDs)
	if m.SpecialUse == store.SpecialTrash || m.SpecialUse == store.SpecialJunk {
		if _, err := s.opts.Store.StoreFlags(r.Context(), acct, m.ID, set, store.FlagsAdd, []string{store.FlagDeleted}, 0); err != nil {
			s.storeError(w, r, err)
			return
		}
		if _, err := s.opts.Store.Expunge(r.Context(), acct, m.ID, set); err != nil {
			s.storeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	trash, err := store.SpecialMailbox(r.Context(), s.opts.Store, acct, store.SpecialTrash)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if _, err := s.opts.Store.Move(r.Context(), acct, m.ID, set, trash.ID); err != nil {
		s.storeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
