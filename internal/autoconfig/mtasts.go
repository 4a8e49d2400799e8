package autoconfig

import (
	"net/http"
	"strconv"
)

// serveMTASTS answers GET /.well-known/mta-sts.txt on mta-sts.<domain>
// (RFC 8461 3.3) with the domain's policy (RFC 8461 3.2), as text/plain.
// On any other host name it is 404: a sending MTA only ever asks
// mta-sts.<domain>, and must not be sent elsewhere (3.3: redirects are not
// followed).
func (h *Handler) serveMTASTS(w http.ResponseWriter, r *http.Request, host string) {
	if !onlyMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	label, name, ok := ServiceDomain(host)
	if !ok || label != MTASTSLabel || h.opts.MTASTSPolicy == nil {
		textError(w, http.StatusNotFound, "not found")
		return
	}
	domain, ok := h.domainFor(w, r, name)
	if !ok {
		return
	}
	policy := h.opts.MTASTSPolicy(domain)
	if policy == "" {
		h.log.Error("no MTA-STS policy for a hosted domain", "domain", domain)
		textError(w, http.StatusNotFound, "not found")
		return
	}
	// RFC 8461 3.2: "MUST be served with the media type text/plain".
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Content-Length", strconv.Itoa(len(policy)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(policy))
}
