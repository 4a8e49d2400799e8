package webmail

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"gannet/internal/login"
)

// ctxKey keys request-scoped values.
type ctxKey struct{}

func sessionOf(r *http.Request) *session { return r.Context().Value(ctxKey{}).(*session) }

// cookieName is the session cookie's name; under TLS the __Host- prefix makes
// the browser refuse it unless it is Secure, host-only and Path=/.
func (s *Server) cookieName() string {
	if s.opts.Secure {
		return "__Host-gannet_session"
	}
	return "gannet_session"
}

func (s *Server) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(),
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.opts.Secure,
		SameSite: http.SameSiteStrictMode,
	})
}

// authed runs h only for a live session, and for state-changing methods only
// with the session's CSRF token (the cross-origin check already ran).
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.currentSession(r)
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		if sess == nil {
			writeError(w, http.StatusUnauthorized, "not logged in")
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		default:
			if !sess.checkCSRF(r.Header.Get("X-CSRF-Token")) {
				writeError(w, http.StatusForbidden, "missing or invalid CSRF token")
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	}
}

// remoteIP is the client's address as the limiter sees it. We do not trust
// forwarding headers: a reverse proxy in front would make every user one IP.
func remoteIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return ip
}

type loginRequest struct {
	Address  string `json:"address"`
	Password string `json:"password"`
}

type sessionInfo struct {
	Address string `json:"address"`
	CSRF    string `json:"csrf"`
	// MobileConfig: GET /api/mobileconfig offers an Apple profile.
	MobileConfig bool `json:"mobileconfig,omitempty"`
}

// handleLogin checks address and password through the login service
// (failed-login limiter, bounded hashing): 401 for wrong credentials, 429
// when the address is blocked, 503 when they cannot be checked now. A failed
// login's address is never logged (people type passwords into it), only its
// keyed hash.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !readJSON(w, r, &req) {
		return
	}
	addr := strings.ToLower(strings.TrimSpace(req.Address))
	ip := remoteIP(r)
	res := s.opts.Login.Password(r.Context(), ip, "", addr, req.Password)
	switch res.Outcome {
	case login.OK:
	case login.Wrong:
		s.log.Info("webmail login failed", "remote", ip, "login", res)
		writeError(w, http.StatusUnauthorized, "invalid address or password")
		return
	case login.Blocked:
		s.log.Warn("webmail login refused: too many failures", "remote", ip, "login", res)
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusTooManyRequests, "too many failed logins; try again later")
		return
	default:
		if r.Context().Err() == nil {
			s.log.Warn("webmail login could not be checked", "remote", ip, "login", res)
		}
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "cannot check the password now; try again later")
		return
	}
	acct := res.Account
	sess, cookie, err := s.sessions.create(r.Context(), acct)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.setCookie(w, cookie, 0)
	s.log.Info("webmail login", "remote", ip, "login", res)
	writeJSON(w, http.StatusOK, sessionInfo{Address: sess.address, CSRF: sess.csrf, MobileConfig: s.opts.MobileConfig != nil})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.sessions.remove(r.Context(), sessionOf(r)); err != nil {
		s.storeError(w, r, err)
		return
	}
	s.setCookie(w, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

// handleSession tells the UI who is logged in and its CSRF token (the token
// is readable only by same-origin script, which is the point).
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	writeJSON(w, http.StatusOK, sessionInfo{Address: sess.address, CSRF: sess.csrf, MobileConfig: s.opts.MobileConfig != nil})
}
