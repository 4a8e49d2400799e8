package autoconfig

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"gannet/internal/store"
)

// Ports are the listeners' ports mail clients are told about; 0 = the
// listener is not configured, and the service is not offered.
type Ports struct {
	IMAPS, IMAP             int // RFC 8314 implicit TLS; STARTTLS (RFC 9051)
	POP3S, POP3             int // implicit TLS; STLS (RFC 2595)
	Submissions, Submission int // implicit TLS (RFC 8314 3.3); STARTTLS (RFC 6409)
}

// Domains tells whether the server hosts a mail domain (store.Store does).
type Domains interface {
	IsLocalDomain(ctx context.Context, name string) (bool, error)
}

// Options configure a Handler.
type Options struct {
	// Hostname is the name clients connect to (the config's hostname,
	// which the TLS certificate covers). Required.
	Hostname string
	// Ports returns the ports to advertise; it is called per request, so
	// that listeners bound after the handler was made (port 0 in tests)
	// are seen. nil = nothing is offered.
	Ports func() Ports
	// Domains answers whether a domain is hosted. Required.
	Domains Domains
	// MTASTSPolicy returns the MTA-STS policy of a hosted domain: the one
	// whose id `gannet domain dns` prints. nil = no policy served (404).
	MTASTSPolicy func(domain string) string
	Logger       *slog.Logger // nil = discard
}

// Handler serves the documents. It is an http.Handler for its own paths
// and, through Wrap, the front of another handler (the webmail).
type Handler struct {
	opts Options
	log  *slog.Logger
}

// New returns a Handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Ports == nil {
		opts.Ports = func() Ports { return Ports{} }
	}
	opts.Hostname = strings.TrimSuffix(strings.ToLower(opts.Hostname), ".")
	return &Handler{opts: opts, log: opts.Logger.With("part", "autoconfig")}
}

// The first labels of the names a domain points at this server for these
// documents (`gannet domain dns` prints the records).
const (
	AutoconfigLabel   = "autoconfig"   // Thunderbird
	AutodiscoverLabel = "autodiscover" // Outlook
	MTASTSLabel       = "mta-sts"      // RFC 8461 3.3
)

// ServiceDomain reports whether host (lower case, no trailing dot) is one of
// a domain's service names, autoconfig.D, autodiscover.D or mta-sts.D, and
// returns the label and D. Whether D is hosted is for the caller to ask.
func ServiceDomain(host string) (label, domain string, ok bool) {
	label, domain, found := strings.Cut(host, ".")
	if !found || domain == "" {
		return "", "", false
	}
	switch label {
	case AutoconfigLabel, AutodiscoverLabel, MTASTSLabel:
		return label, domain, true
	}
	return "", "", false
}

// Paths, compared without regard to case: clients spell Autodiscover both ways.
const (
	pathMTASTS           = "/.well-known/mta-sts.txt"
	pathThunderbird      = "/mail/config-v1.1.xml"
	pathThunderbirdWK    = "/.well-known/autoconfig/mail/config-v1.1.xml"
	pathAutodiscoverXML  = "/autodiscover/autodiscover.xml"
	pathAutodiscoverJSON = "/autodiscover/autodiscover.json"
)

// owns reports whether the path is one of ours.
func owns(path string) bool {
	p := strings.ToLower(path)
	switch p {
	case pathMTASTS, pathThunderbird, pathThunderbirdWK, pathAutodiscoverXML, pathAutodiscoverJSON:
		return true
	}
	return strings.HasPrefix(p, pathAutodiscoverJSON+"/")
}

// ServeHTTP answers the package's paths; anything else is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	host := requestHost(r)
	p := strings.ToLower(r.URL.Path)
	switch {
	case p == pathMTASTS:
		h.serveMTASTS(w, r, host)
	case p == pathThunderbird || p == pathThunderbirdWK:
		h.serveThunderbird(w, r, host)
	case p == pathAutodiscoverXML:
		h.serveAutodiscoverXML(w, r)
	case p == pathAutodiscoverJSON || strings.HasPrefix(p, pathAutodiscoverJSON+"/"):
		h.serveAutodiscoverJSON(w, r)
	default:
		textError(w, http.StatusNotFound, "not found")
	}
}

// Wrap returns a handler that answers the package's paths on any host, and
// everything on the service host names, itself, and passes the rest to
// next. The webmail is next: its index page would otherwise answer every
// unknown path (the MTA-STS policy URL once returned the webmail page).
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := requestHost(r)
		if _, _, service := ServiceDomain(host); owns(r.URL.Path) || service && host != h.opts.Hostname {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestHost is the request's host name: lower case, without port or
// trailing dot. It only ever selects a domain that is then checked against
// the store; no answer repeats it.
func requestHost(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// hosted normalises name and reports whether the store hosts it. An
// invalid name is not hosted.
func (h *Handler) hosted(ctx context.Context, name string) (string, bool, error) {
	d, err := store.NormDomain(name)
	if err != nil {
		return "", false, nil
	}
	ok, err := h.opts.Domains.IsLocalDomain(ctx, d)
	if err != nil {
		return "", false, err
	}
	return d, ok, nil
}

// domainFor finds the hosted domain a request is about and answers the
// request itself (404, 503) when there is none.
func (h *Handler) domainFor(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	d, ok, err := h.hosted(r.Context(), name)
	if err != nil {
		h.log.Error("domain lookup", "err", err)
		textError(w, http.StatusServiceUnavailable, "try again later")
		return "", false
	}
	if !ok {
		textError(w, http.StatusNotFound, "not found")
		return "", false
	}
	return d, true
}

// onlyMethods answers 405 unless the request's method is one of methods.
func onlyMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	textError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

// textError answers a fixed, client-safe text.
func textError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}
