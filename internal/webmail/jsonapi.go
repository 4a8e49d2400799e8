package webmail

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"gannet/internal/store"
)

// writeJSON answers v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}. msg is always a fixed, client-safe text.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// notFound is the one answer for a mailbox or message that does not exist
// or belongs to someone else: both must look the same.
func notFound(w http.ResponseWriter) { writeError(w, http.StatusNotFound, "not found") }

// storeError maps a store error to a client-safe answer and logs the cause
// of anything unexpected.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		notFound(w)
	case errors.Is(err, store.ErrExists):
		writeError(w, http.StatusConflict, "a folder with that name already exists")
	case errors.Is(err, store.ErrInvalidName):
		writeError(w, http.StatusBadRequest, "invalid folder name")
	case errors.Is(err, store.ErrHasChildren):
		writeError(w, http.StatusConflict, "the folder has subfolders")
	case errors.Is(err, store.ErrNotPermitted):
		writeError(w, http.StatusForbidden, "not permitted")
	case errors.Is(err, store.ErrOverQuota):
		writeError(w, http.StatusInsufficientStorage, "mailbox quota exceeded")
	case errors.Is(err, store.ErrInvalidFlag):
		writeError(w, http.StatusBadRequest, "invalid flag")
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		writeError(w, http.StatusServiceUnavailable, "request cancelled")
	default:
		s.log.Error("store error", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
	}
}

// readJSON decodes a bounded JSON body into v, rejecting unknown fields.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request body")
		return false
	}
	return true
}

// pathID parses a numeric path value. A malformed ID is answered like an
// unknown one.
func pathID(r *http.Request, name string) (int64, error) {
	v, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("path %s: %w", name, store.ErrNotFound)
	}
	return v, nil
}

// pathUID parses a message UID from the path.
func pathUID(r *http.Request) (uint32, error) {
	v, err := strconv.ParseUint(r.PathValue("uid"), 10, 32)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("path uid: %w", store.ErrNotFound)
	}
	return uint32(v), nil
}

// uidSet turns a list of UIDs into a store.UIDSet of single-UID ranges
// merged where consecutive (the store bounds the SQL it builds from it).
func uidSet(uids []uint32) store.UIDSet {
	if len(uids) == 0 {
		return store.UIDSet{}
	}
	sorted := append([]uint32(nil), uids...)
	slices.Sort(sorted)
	var set store.UIDSet
	for _, u := range sorted {
		if u == 0 {
			continue
		}
		if n := len(set); n > 0 && (set[n-1].Hi == u || set[n-1].Hi+1 == u) {
			set[n-1].Hi = u
			continue
		}
		set = append(set, store.UIDRange{Lo: u, Hi: u})
	}
	if set == nil {
		return store.UIDSet{}
	}
	return set
}
