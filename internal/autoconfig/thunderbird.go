package autoconfig

import (
	"encoding/xml"
	"net/http"
	"strconv"

	"gannet/internal/store"
)

// Thunderbird's autoconfig format, clientConfig version 1.1
// (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat).
// Thunderbird offers the first server of each kind and falls back to the
// next, so the order of the elements is the order of preference.

// ClientConfig is the document's root.
type ClientConfig struct {
	XMLName  xml.Name      `xml:"clientConfig"`
	Version  string        `xml:"version,attr"`
	Provider EmailProvider `xml:"emailProvider"`
}

// EmailProvider describes the domain's servers.
type EmailProvider struct {
	ID               string   `xml:"id,attr"`
	Domain           string   `xml:"domain"`
	DisplayName      string   `xml:"displayName"`
	DisplayShortName string   `xml:"displayShortName"`
	Incoming         []Server `xml:"incomingServer"`
	Outgoing         []Server `xml:"outgoingServer"`
}

// Server is one incomingServer or outgoingServer.
type Server struct {
	Type           string `xml:"type,attr"` // imap, pop3, smtp
	Hostname       string `xml:"hostname"`
	Port           int    `xml:"port"`
	SocketType     string `xml:"socketType"` // SSL (implicit TLS) or STARTTLS
	Username       string `xml:"username"`
	Authentication string `xml:"authentication"`
}

// usernamePlaceholder makes Thunderbird log in with the whole address, as
// Gannet's accounts are named.
const usernamePlaceholder = "%EMAILADDRESS%"

// clientConfig builds the document for a hosted domain.
func (h *Handler) clientConfig(domain string) ClientConfig {
	p := h.opts.Ports()
	server := func(typ string, port int, socket string) Server {
		return Server{Type: typ, Hostname: h.opts.Hostname, Port: port, SocketType: socket,
			Username: usernamePlaceholder, Authentication: "password-cleartext"}
	}
	var in, out []Server
	// RFC 8314 5.1: implicit TLS first, STARTTLS after; IMAP before POP3
	// (RFC 6186 3.4 prefers IMAP too).
	for _, s := range []struct {
		typ    string
		port   int
		socket string
		out    bool
	}{
		{"imap", p.IMAPS, "SSL", false}, {"imap", p.IMAP, "STARTTLS", false},
		{"pop3", p.POP3S, "SSL", false}, {"pop3", p.POP3, "STARTTLS", false},
		{"smtp", p.Submissions, "SSL", true}, {"smtp", p.Submission, "STARTTLS", true},
	} {
		switch {
		case s.port == 0:
		case s.out:
			out = append(out, server(s.typ, s.port, s.socket))
		default:
			in = append(in, server(s.typ, s.port, s.socket))
		}
	}
	return ClientConfig{Version: "1.1", Provider: EmailProvider{
		ID: domain, Domain: domain, DisplayName: domain, DisplayShortName: domain,
		Incoming: in, Outgoing: out,
	}}
}

// serveThunderbird answers GET config-v1.1.xml. The domain is the one of
// ?emailaddress= when given (Thunderbird sends it), else the one the host
// name names: autoconfig.D (or another service name of D), or D itself
// for the .well-known path.
func (h *Handler) serveThunderbird(w http.ResponseWriter, r *http.Request, host string) {
	if !onlyMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	name := host
	if _, d, ok := ServiceDomain(host); ok {
		name = d
	}
	if addr := r.URL.Query().Get("emailaddress"); addr != "" {
		_, d, err := store.NormAddress(addr)
		if err != nil {
			textError(w, http.StatusBadRequest, "invalid emailaddress")
			return
		}
		name = d
	}
	domain, ok := h.domainFor(w, r, name)
	if !ok {
		return
	}
	writeXML(w, "application/xml; charset=utf-8", h.clientConfig(domain))
}

// writeXML answers v as an XML document.
func writeXML(w http.ResponseWriter, ctype string, v any) {
	b, err := xml.MarshalIndent(v, "", "  ")
	if err != nil {
		// Only our own structs get here, and they always marshal.
		textError(w, http.StatusInternalServerError, "internal error")
		return
	}
	b = append([]byte(xml.Header), b...)
	b = append(b, '\n')
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
