package autoconfig

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"gannet/internal/store"
)

// Outlook's Autodiscover, the "POX" protocol of [MS-OXDSCLI]: the client
// POSTs a small XML request naming the address and the response schema it
// accepts, and gets the servers in the "outlook" response schema. Newer
// Outlooks first ask the JSON endpoint ([MS-OXDISCO] v2) where the POX
// service is.

// Namespaces of [MS-OXDSCLI] 2.2.2 and 2.2.4.
const (
	adResponseNS        = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	adOutlookResponseNS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
)

// maxBody bounds an Autodiscover request: a real one is a few hundred bytes.
const maxBody = 64 << 10

// AutodiscoverRequest is the POX request. Names match in any namespace:
// clients differ, and only the two fields matter.
type AutodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

// AutodiscoverResponse is the POX response (responseschema/2006 around an
// outlook/responseschema/2006a Response).
type AutodiscoverResponse struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006 Autodiscover"`
	Response any
}

// OutlookResponse is the outlook schema's Response: the user and the account.
type OutlookResponse struct {
	XMLName xml.Name `xml:"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a Response"`
	User    struct {
		DisplayName string `xml:"DisplayName"`
	} `xml:"User"`
	Account struct {
		AccountType string     `xml:"AccountType"` // email
		Action      string     `xml:"Action"`      // settings
		Protocols   []Protocol `xml:"Protocol"`
	} `xml:"Account"`
}

// Protocol is one server of the account ([MS-OXDSCLI] 2.2.4.1.1.2.8).
type Protocol struct {
	Type           string `xml:"Type"` // IMAP, POP3, SMTP
	Server         string `xml:"Server"`
	Port           int    `xml:"Port"`
	LoginName      string `xml:"LoginName"`
	DomainRequired string `xml:"DomainRequired"` // off
	SPA            string `xml:"SPA"`            // off: passwords, not NTLM
	SSL            string `xml:"SSL"`            // on
	// Encryption SSL is implicit TLS, TLS is STARTTLS; where present it
	// overrides SSL.
	Encryption   string `xml:"Encryption"`
	AuthRequired string `xml:"AuthRequired"` // on
}

// ErrorResponse is the schema's error answer ([MS-OXDSCLI] 2.2.4.1.1.1).
type ErrorResponse struct {
	XMLName xml.Name `xml:"Response"`
	Error   struct {
		ErrorCode int    `xml:"ErrorCode"`
		Message   string `xml:"Message"`
	} `xml:"Error"`
}

// autodiscover builds the response for an address of a hosted domain: one
// server per protocol, implicit TLS where its listener exists (RFC 8314
// 5.1), else STARTTLS, never plain text.
func (h *Handler) autodiscover(address string) AutodiscoverResponse {
	p := h.opts.Ports()
	var res OutlookResponse
	res.User.DisplayName = address
	res.Account.AccountType = "email"
	res.Account.Action = "settings"
	for _, s := range []struct {
		typ             string
		tlsPort, stPort int
	}{
		{"IMAP", p.IMAPS, p.IMAP}, {"POP3", p.POP3S, p.POP3}, {"SMTP", p.Submissions, p.Submission},
	} {
		port, enc := s.tlsPort, "SSL"
		if port == 0 {
			port, enc = s.stPort, "TLS"
		}
		if port == 0 {
			continue
		}
		res.Account.Protocols = append(res.Account.Protocols, Protocol{
			Type: s.typ, Server: h.opts.Hostname, Port: port, LoginName: address,
			DomainRequired: "off", SPA: "off", SSL: "on", Encryption: enc, AuthRequired: "on",
		})
	}
	return AutodiscoverResponse{Response: res}
}

// serveAutodiscoverXML answers POST /autodiscover/autodiscover.xml.
func (h *Handler) serveAutodiscoverXML(w http.ResponseWriter, r *http.Request) {
	if !onlyMethods(w, r, http.MethodPost) {
		return
	}
	var req AutodiscoverRequest
	dec := xml.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			textError(w, http.StatusRequestEntityTooLarge, "request too large")
			return
		}
		textError(w, http.StatusBadRequest, "invalid request")
		return
	}
	if s := strings.TrimSpace(req.Request.AcceptableResponseSchema); s != "" && s != adOutlookResponseNS {
		// E.g. mobilesync (ActiveSync), which Gannet does not speak:
		// 601, "Provider is not available" ([MS-OXDSCLI] 2.2.4.1.1.1.1.1).
		var e ErrorResponse
		e.Error.ErrorCode, e.Error.Message = 601, "Provider is not available"
		writeXML(w, "text/xml; charset=utf-8", AutodiscoverResponse{Response: e})
		return
	}
	local, d, err := store.NormAddress(req.Request.EMailAddress)
	if err != nil {
		textError(w, http.StatusBadRequest, "invalid EMailAddress")
		return
	}
	domain, ok := h.domainFor(w, r, d)
	if !ok {
		return
	}
	writeXML(w, "text/xml; charset=utf-8", h.autodiscover(local+"@"+domain))
}

// AutodiscoverV2 is the JSON endpoint's answer.
type AutodiscoverV2 struct {
	Protocol string `json:"Protocol"`
	URL      string `json:"Url"`
}

// serveAutodiscoverJSON answers the v2 endpoint, in either spelling:
// /autodiscover/autodiscover.json?Email=A&Protocol=AutodiscoverV1 and
// /autodiscover/autodiscover.json/v1.0/A?Protocol=AutodiscoverV1. Only
// AutodiscoverV1 (the POX service) is offered: the answer points at
// autodiscover.<domain>, the name `gannet domain dns` publishes.
func (h *Handler) serveAutodiscoverJSON(w http.ResponseWriter, r *http.Request) {
	if !onlyMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	q := r.URL.Query()
	addr := q.Get("Email")
	if addr == "" {
		addr = q.Get("email")
	}
	// The dispatcher matched the path in lower case; a path whose case
	// folding changed its length has no address we could use.
	path := r.URL.Path
	if len(path) < len(pathAutodiscoverJSON) {
		textError(w, http.StatusNotFound, "not found")
		return
	}
	if rest := path[len(pathAutodiscoverJSON):]; rest != "" {
		// "/v1.0/<address>"; the version is the only one there is.
		v, a, _ := strings.Cut(strings.TrimPrefix(rest, "/"), "/")
		if !strings.EqualFold(v, "v1.0") || a == "" {
			textError(w, http.StatusNotFound, "not found")
			return
		}
		addr = a
	}
	proto := q.Get("Protocol")
	if proto == "" {
		proto = q.Get("protocol")
	}
	if !strings.EqualFold(proto, "AutodiscoverV1") {
		textError(w, http.StatusBadRequest, "unsupported Protocol: only AutodiscoverV1 is offered")
		return
	}
	_, d, err := store.NormAddress(addr)
	if err != nil {
		textError(w, http.StatusBadRequest, "invalid Email")
		return
	}
	domain, ok := h.domainFor(w, r, d)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(AutodiscoverV2{
		Protocol: "AutodiscoverV1",
		URL:      "https://" + AutodiscoverLabel + "." + domain + pathAutodiscoverXML,
	})
}
