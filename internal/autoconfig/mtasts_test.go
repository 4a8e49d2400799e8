package autoconfig_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestMTASTS: the policy is served on mta-sts.<domain> only, as text/plain,
// and reads as RFC 8461 3.2 says.
func TestMTASTS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	a := e.both(request{method: "GET", url: "https://mta-sts." + domain + "/.well-known/mta-sts.txt"}, http.StatusOK)
	if a.ctype != "text/plain" {
		t.Errorf("Content-Type %q, want text/plain (RFC 8461 3.2)", a.ctype)
	}
	golden(t, "mta-sts.txt", a.body)
	// RFC 8461 3.2: "key: value" lines ending in CRLF; version first.
	fields := map[string][]string{}
	lines := strings.Split(strings.TrimSuffix(string(a.body), "\r\n"), "\r\n")
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("policy line %q", l)
		}
		fields[k] = append(fields[k], v)
	}
	if !strings.HasPrefix(string(a.body), "version: STSv1\r\n") || !strings.HasSuffix(string(a.body), "\r\n") {
		t.Errorf("policy %q: want version first and CRLF line ends", a.body)
	}
	for k, want := range map[string]string{"version": "STSv1", "mode": "enforce", "mx": hostname, "max_age": "604800"} {
		if v := fields[k]; len(v) != 1 || v[0] != want {
			t.Errorf("%s: %q, want %q", k, v, want)
		}
	}
	if len(fields) != 4 {
		t.Errorf("policy fields %v", fields)
	}

	for _, c := range []struct {
		method, url string
		status      int
	}{
		// Only mta-sts.<domain> serves it.
		{"GET", "https://" + hostname + "/.well-known/mta-sts.txt", http.StatusNotFound},
		{"GET", "https://" + domain + "/.well-known/mta-sts.txt", http.StatusNotFound},
		{"GET", "https://autoconfig." + domain + "/.well-known/mta-sts.txt", http.StatusNotFound},
		// Not for a domain hosted elsewhere.
		{"GET", "https://mta-sts." + other + "/.well-known/mta-sts.txt", http.StatusNotFound},
		{"POST", "https://mta-sts." + domain + "/.well-known/mta-sts.txt", http.StatusMethodNotAllowed},
	} {
		t.Run(c.method+" "+c.url, func(t *testing.T) {
			a := e.both(request{method: c.method, url: c.url}, c.status)
			if strings.Contains(string(a.body), "STSv1") || strings.Contains(string(a.body), webmailPage) {
				t.Errorf("answer %q", a.body)
			}
		})
	}
}

// TestFront: the handler answers its paths on every host and everything on
// the service names; the rest reaches the webmail.
func TestFront(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	for _, c := range []struct {
		url     string
		status  int
		webmail bool
	}{
		{"https://" + hostname + "/", http.StatusOK, true},
		{"https://" + hostname + "/api/session", http.StatusOK, true},
		{"https://" + domain + "/inbox", http.StatusOK, true},
		// The service names serve no webmail (and so no session cookie).
		{"https://autoconfig." + domain + "/", http.StatusNotFound, false},
		{"https://mta-sts." + domain + "/", http.StatusNotFound, false},
		{"https://autodiscover." + domain + "/api/session", http.StatusNotFound, false},
		{"https://mta-sts." + other + "/index.html", http.StatusNotFound, false},
		// Our paths are ours on the server's own name too: the webmail's
		// index page once answered the MTA-STS policy URL.
		{"https://" + hostname + "/.well-known/mta-sts.txt", http.StatusNotFound, false},
		{"https://" + hostname + "/.WELL-KNOWN/MTA-STS.TXT", http.StatusNotFound, false},
	} {
		t.Run(c.url, func(t *testing.T) {
			a := e.both(request{method: "GET", url: c.url}, c.status)
			if got := string(a.body) == webmailPage; got != c.webmail {
				t.Errorf("webmail answered: %v, want %v (%q)", got, c.webmail, a.body)
			}
		})
	}
}
