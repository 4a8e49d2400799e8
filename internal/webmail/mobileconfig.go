package webmail

import (
	"mime"
	"net/http"
	"strconv"
)

// mobileConfigType is the media type Apple devices install as a
// configuration profile (the same as internal/autoconfig.MobileConfigType;
// the webmail does not import the package that makes the profile).
const mobileConfigType = "application/x-apple-aspen-config"

// handleMobileConfig downloads the Apple configuration profile that sets up
// the session's own account on an iPhone, iPad or Mac. The address is the
// session's, never one from the request, so no user can get another's.
func (s *Server) handleMobileConfig(w http.ResponseWriter, r *http.Request) {
	if s.opts.MobileConfig == nil {
		notFound(w)
		return
	}
	addr := sessionOf(r).address
	body, err := s.opts.MobileConfig(addr)
	if err != nil {
		s.log.Error("mobileconfig", "user", addr, "err", err)
		writeError(w, http.StatusInternalServerError, "internal error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", mobileConfigType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": addr + ".mobileconfig"}))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
