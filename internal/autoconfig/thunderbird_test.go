package autoconfig_test

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"gannet/internal/autoconfig"
)

// server is one incoming or outgoing server as the test expects it.
type server struct {
	typ, socket string
	port        int
}

// checkClientConfig parses a clientConfig answer back and checks every field.
func checkClientConfig(t *testing.T, a answer, wantDomain string, in, out []server) {
	t.Helper()
	if a.ctype != "application/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", a.ctype)
	}
	var c autoconfig.ClientConfig
	if err := xml.Unmarshal(a.body, &c); err != nil {
		t.Fatalf("parse %q: %v", a.body, err)
	}
	p := c.Provider
	if c.XMLName.Local != "clientConfig" || c.Version != "1.1" || p.ID != wantDomain || p.Domain != wantDomain ||
		p.DisplayName == "" || p.DisplayShortName == "" {
		t.Errorf("clientConfig header: %+v", c)
	}
	check := func(kind string, got []autoconfig.Server, want []server) {
		t.Helper()
		var have []server
		for _, s := range got {
			have = append(have, server{s.Type, s.SocketType, s.Port})
			if s.Hostname != hostname || s.Username != "%EMAILADDRESS%" || s.Authentication != "password-cleartext" {
				t.Errorf("%s server %+v: want hostname %s, username %%EMAILADDRESS%%, password-cleartext", kind, s, hostname)
			}
		}
		if !slices.Equal(have, want) {
			t.Errorf("%s servers %v, want %v", kind, have, want)
		}
	}
	check("incoming", p.Incoming, in)
	check("outgoing", p.Outgoing, out)
}

// allIncoming and allOutgoing are the servers of standardPorts in the order
// of preference: implicit TLS first (RFC 8314 5.1), IMAP before POP3.
func allIncoming() []server {
	return []server{{"imap", "SSL", 993}, {"imap", "STARTTLS", 143}, {"pop3", "SSL", 995}, {"pop3", "STARTTLS", 110}}
}

func allOutgoing() []server { return []server{{"smtp", "SSL", 465}, {"smtp", "STARTTLS", 587}} }

func TestThunderbird(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	q := "?emailaddress=" + url.QueryEscape(alice)
	for _, u := range []string{
		// Thunderbird's first URL, with and without the address.
		"https://autoconfig." + domain + "/mail/config-v1.1.xml" + q,
		"https://autoconfig." + domain + "/mail/config-v1.1.xml",
		// Its second: the domain's own .well-known.
		"https://" + domain + "/.well-known/autoconfig/mail/config-v1.1.xml" + q,
		"https://" + domain + "/.well-known/autoconfig/mail/config-v1.1.xml",
		// Either path on the server's own name, the address saying which domain.
		"https://" + hostname + "/.well-known/autoconfig/mail/config-v1.1.xml" + q,
		"https://" + hostname + "/mail/config-v1.1.xml" + q,
		// The address's case does not matter.
		"https://autoconfig." + domain + "/mail/config-v1.1.xml?emailaddress=Alice%40EXAMPLE.test",
	} {
		t.Run(u, func(t *testing.T) {
			a := e.both(request{method: "GET", url: u}, http.StatusOK)
			checkClientConfig(t, a, domain, allIncoming(), allOutgoing())
		})
	}
	a := e.goClient(request{method: "GET", url: "https://autoconfig." + domain + "/mail/config-v1.1.xml" + q})
	golden(t, "config-v1.1.xml", a.body)
}

// TestThunderbirdRefusals: a domain not hosted here is 404 whichever way it
// is named; a bad address is 400; only GET.
func TestThunderbirdRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	for _, c := range []struct {
		method, url string
		status      int
	}{
		{"GET", "https://autoconfig." + other + "/mail/config-v1.1.xml", http.StatusNotFound},
		{"GET", "https://" + other + "/.well-known/autoconfig/mail/config-v1.1.xml", http.StatusNotFound},
		{"GET", "https://autoconfig." + domain + "/mail/config-v1.1.xml?emailaddress=bob%40" + other, http.StatusNotFound},
		// The server's own name is no mail domain.
		{"GET", "https://" + hostname + "/mail/config-v1.1.xml", http.StatusNotFound},
		{"GET", "https://autoconfig." + domain + "/mail/config-v1.1.xml?emailaddress=not-an-address", http.StatusBadRequest},
		{"GET", "https://autoconfig." + domain + "/mail/config-v1.1.xml?emailaddress=%3Cx%3E%40%3Cy%3E", http.StatusBadRequest},
		{"POST", "https://autoconfig." + domain + "/mail/config-v1.1.xml", http.StatusMethodNotAllowed},
	} {
		t.Run(c.method+" "+c.url, func(t *testing.T) {
			a := e.both(request{method: c.method, url: c.url}, c.status)
			if a.ctype != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type %q", a.ctype)
			}
		})
	}
	// A domain added to the running server is answered at once.
	if err := e.st.AddDomain(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	a := e.both(request{method: "GET", url: "https://autoconfig." + other + "/mail/config-v1.1.xml"}, http.StatusOK)
	checkClientConfig(t, a, other, allIncoming(), allOutgoing())
}

// TestThunderbirdOnlyListeners: services whose listener is not configured
// are not offered.
func TestThunderbirdOnlyListeners(t *testing.T) {
	t.Parallel()
	e := newEnv(t, autoconfig.Ports{IMAP: 1143, IMAPS: 1993, Submission: 1587})
	a := e.both(request{method: "GET", url: "https://autoconfig." + domain + "/mail/config-v1.1.xml"}, http.StatusOK)
	checkClientConfig(t, a, domain, []server{{"imap", "SSL", 1993}, {"imap", "STARTTLS", 1143}}, []server{{"smtp", "STARTTLS", 1587}})
}
