package autoconfig_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gannet/internal/autoconfig"
	"gannet/internal/store/testopen"
)

// FuzzHandler: any request to any of the handler's paths gets one of the
// documented answers, and a 200 is a well-formed document; never a panic.
func FuzzHandler(f *testing.F) {
	st := testopen.Open(f)
	if err := st.AddDomain(context.Background(), domain); err != nil {
		f.Fatal(err)
	}
	h := autoconfig.New(autoconfig.Options{Hostname: hostname, Domains: st,
		Ports: standardPorts,
		MTASTSPolicy: func(string) string {
			return "version: STSv1\r\nmode: enforce\r\nmx: " + hostname + "\r\nmax_age: 604800\r\n"
		}})
	f.Add("POST", "autodiscover."+domain, "/autodiscover/autodiscover.xml", podRequest(alice))
	f.Add("POST", domain, "/Autodiscover/Autodiscover.xml", `<Autodiscover><Request><EMailAddress>a@`+domain+`</EMailAddress><Request></Autodiscover>`)
	f.Add("POST", domain, "/autodiscover/autodiscover.xml", `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><Autodiscover>&x;</Autodiscover>`)
	f.Add("GET", "autodiscover."+domain, "/autodiscover/autodiscover.json/v1.0/"+alice+"?Protocol=AutodiscoverV1", "")
	f.Add("GET", "autoconfig."+domain, "/mail/config-v1.1.xml?emailaddress="+alice, "")
	f.Add("GET", "mta-sts."+domain, "/.well-known/mta-sts.txt", "")
	f.Fuzz(func(t *testing.T, method, host, target, body string) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(method, "https://x"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			ctype := rec.Header().Get("Content-Type")
			switch {
			case strings.Contains(ctype, "xml"):
				var v struct{}
				if err := xml.Unmarshal(rec.Body.Bytes(), &v); err != nil {
					t.Errorf("200 with malformed XML %q: %v", rec.Body.Bytes(), err)
				}
			case strings.Contains(ctype, "json"):
				if !json.Valid(rec.Body.Bytes()) {
					t.Errorf("200 with malformed JSON %q", rec.Body.Bytes())
				}
			case ctype == "text/plain":
			default:
				t.Errorf("200 with Content-Type %q", ctype)
			}
		case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge:
		default:
			t.Errorf("%s %s (Host %q): status %d", method, target, host, rec.Code)
		}
	})
}
