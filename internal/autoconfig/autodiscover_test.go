package autoconfig_test

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"testing"

	"gannet/internal/autoconfig"
)

// podRequest is the request Outlook POSTs ([MS-OXDSCLI] 4.1).
func podRequest(addr string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>` + addr + `</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`
}

// podResponse is the response as a client reads it, namespaces included.
type podResponse struct {
	XMLName  xml.Name
	Response struct {
		XMLName xml.Name
		User    struct {
			DisplayName string
		}
		Account struct {
			AccountType string
			Action      string
			Protocol    []autoconfig.Protocol
		}
		Error struct {
			ErrorCode int
			Message   string
		}
	} `xml:"Response"`
}

// protocol is one Protocol element as the test expects it.
type protocol struct {
	typ, encryption string
	port            int
}

func checkAutodiscover(t *testing.T, a answer, login string, want []protocol) {
	t.Helper()
	if a.ctype != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", a.ctype)
	}
	var r podResponse
	if err := xml.Unmarshal(a.body, &r); err != nil {
		t.Fatalf("parse %q: %v", a.body, err)
	}
	if r.XMLName.Space != "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006" || r.XMLName.Local != "Autodiscover" {
		t.Errorf("root element %v", r.XMLName)
	}
	if r.Response.XMLName.Space != "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a" {
		t.Errorf("Response in namespace %q, want the outlook response schema 2006a", r.Response.XMLName.Space)
	}
	acct := r.Response.Account
	if acct.AccountType != "email" || acct.Action != "settings" || r.Response.User.DisplayName != login {
		t.Errorf("account %+v, user %+v", acct, r.Response.User)
	}
	var have []protocol
	for _, p := range acct.Protocol {
		have = append(have, protocol{p.Type, p.Encryption, p.Port})
		if p.Server != hostname || p.LoginName != login || p.SSL != "on" || p.SPA != "off" ||
			p.AuthRequired != "on" || p.DomainRequired != "off" {
			t.Errorf("protocol %+v: want server %s, login %s, SSL on, SPA off, AuthRequired on", p, hostname, login)
		}
	}
	if !slices.Equal(have, want) {
		t.Errorf("protocols %v, want %v", have, want)
	}
}

func TestAutodiscover(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	tls := []protocol{{"IMAP", "SSL", 993}, {"POP3", "SSL", 995}, {"SMTP", "SSL", 465}}
	for _, u := range []string{
		"https://autodiscover." + domain + "/autodiscover/autodiscover.xml",
		// Outlook spells it with capitals; and it asks the domain itself first.
		"https://autodiscover." + domain + "/Autodiscover/Autodiscover.xml",
		"https://" + domain + "/autodiscover/autodiscover.xml",
		"https://" + hostname + "/autodiscover/autodiscover.xml",
	} {
		t.Run(u, func(t *testing.T) {
			a := e.both(request{method: "POST", url: u, body: podRequest(alice), ctype: "text/xml"}, http.StatusOK)
			checkAutodiscover(t, a, alice, tls)
		})
	}
	// The address is normalised; no schema named is the outlook one.
	bare := `<Autodiscover><Request><EMailAddress> Alice@Example.TEST </EMailAddress></Request></Autodiscover>`
	a := e.both(request{method: "POST", url: "https://autodiscover." + domain + "/autodiscover/autodiscover.xml", body: bare}, http.StatusOK)
	checkAutodiscover(t, a, alice, tls)
	golden(t, "autodiscover.xml", a.body)

	// Without implicit TLS listeners, STARTTLS is offered (Encryption TLS),
	// never plain text.
	e2 := newEnv(t, autoconfig.Ports{IMAP: 143, POP3S: 995, Submission: 587})
	a = e2.both(request{method: "POST", url: "https://autodiscover." + domain + "/autodiscover/autodiscover.xml", body: podRequest(alice)}, http.StatusOK)
	checkAutodiscover(t, a, alice, []protocol{{"IMAP", "TLS", 143}, {"POP3", "SSL", 995}, {"SMTP", "TLS", 587}})
}

// TestAutodiscoverHostile: whatever the body, a fixed answer and no panic,
// within bounded memory.
func TestAutodiscoverHostile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	u := "https://autodiscover." + domain + "/autodiscover/autodiscover.xml"
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		`<Autodiscover><Request><EMailAddress>&lol3;@example.test</EMailAddress></Request></Autodiscover>`
	external := `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>` +
		`<Autodiscover><Request><EMailAddress>&x;</EMailAddress></Request></Autodiscover>`
	for _, c := range []struct {
		name   string
		body   string
		status int
	}{
		{"empty", "", http.StatusBadRequest},
		{"not XML", "EMailAddress=alice@example.test", http.StatusBadRequest},
		{"truncated", podRequest(alice)[:120], http.StatusBadRequest},
		{"wrong root", `<Discover><Request><EMailAddress>` + alice + `</EMailAddress></Request></Discover>`, http.StatusBadRequest},
		{"no address", `<Autodiscover><Request></Request></Autodiscover>`, http.StatusBadRequest},
		{"bad address", podRequest("alice"), http.StatusBadRequest},
		{"entity expansion", laughs, http.StatusBadRequest},
		{"external entity", external, http.StatusBadRequest},
		{"UTF-16 declared", `<?xml version="1.0" encoding="utf-16"?><Autodiscover/>`, http.StatusBadRequest},
		{"deep nesting", strings.Repeat("<a>", 20000) + strings.Repeat("</a>", 20000), http.StatusBadRequest},
		{"huge body", "<Autodiscover><Request><EMailAddress>" + strings.Repeat("a", 1<<20) + "@example.test</EMailAddress></Request></Autodiscover>", http.StatusRequestEntityTooLarge},
		{"unknown domain", podRequest("bob@" + other), http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.both(request{method: "POST", url: u, body: c.body, ctype: "text/xml"}, c.status)
			if a.ctype != "text/plain; charset=utf-8" || len(a.body) > 100 {
				t.Errorf("answer %q %q: want a short fixed text", a.ctype, a.body)
			}
			if strings.Contains(string(a.body), "root:") {
				t.Errorf("answer reveals a file: %q", a.body)
			}
		})
	}
	// GET is no Autodiscover request.
	e.both(request{method: "GET", url: u}, http.StatusMethodNotAllowed)

	// A schema Gannet does not speak (ActiveSync's): error 601.
	mobile := strings.Replace(podRequest(alice), "outlook/responseschema/2006a", "mobilesync/responseschema/2006", 1)
	a := e.both(request{method: "POST", url: u, body: mobile, ctype: "text/xml"}, http.StatusOK)
	var r podResponse
	if err := xml.Unmarshal(a.body, &r); err != nil {
		t.Fatal(err)
	}
	if r.Response.Error.ErrorCode != 601 || len(r.Response.Account.Protocol) != 0 {
		t.Errorf("mobilesync request: %s", a.body)
	}
}

func TestAutodiscoverJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, standardPorts())
	want := autoconfig.AutodiscoverV2{Protocol: "AutodiscoverV1", URL: "https://autodiscover." + domain + "/autodiscover/autodiscover.xml"}
	for _, u := range []string{
		"https://autodiscover." + domain + "/autodiscover/autodiscover.json?Email=" + alice + "&Protocol=AutodiscoverV1",
		"https://" + domain + "/autodiscover/autodiscover.json?Email=" + alice + "&Protocol=AutodiscoverV1&RedirectCount=1",
		"https://autodiscover." + domain + "/autodiscover/autodiscover.json/v1.0/" + alice + "?Protocol=AutodiscoverV1",
		"https://autodiscover." + domain + "/Autodiscover/Autodiscover.json?Email=" + alice + "&Protocol=autodiscoverv1",
	} {
		t.Run(u, func(t *testing.T) {
			a := e.both(request{method: "GET", url: u}, http.StatusOK)
			if a.ctype != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", a.ctype)
			}
			var got autoconfig.AutodiscoverV2
			if err := json.Unmarshal(a.body, &got); err != nil {
				t.Fatalf("parse %q: %v", a.body, err)
			}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if s := strings.TrimSpace(string(a.body)); s != `{"Protocol":"AutodiscoverV1","Url":"https://autodiscover.example.test/autodiscover/autodiscover.xml"}` {
				t.Errorf("body %s", s)
			}
		})
	}
	for _, c := range []struct {
		url    string
		status int
	}{
		{"/autodiscover/autodiscover.json?Email=" + alice + "&Protocol=ActiveSync", http.StatusBadRequest},
		{"/autodiscover/autodiscover.json?Email=" + alice, http.StatusBadRequest},
		{"/autodiscover/autodiscover.json?Email=nobody&Protocol=AutodiscoverV1", http.StatusBadRequest},
		{"/autodiscover/autodiscover.json?Email=bob@" + other + "&Protocol=AutodiscoverV1", http.StatusNotFound},
		{"/autodiscover/autodiscover.json/v2.0/" + alice + "?Protocol=AutodiscoverV1", http.StatusNotFound},
		{"/autodiscover/autodiscover.json/v1.0/?Protocol=AutodiscoverV1", http.StatusNotFound},
	} {
		t.Run(c.url, func(t *testing.T) {
			e.both(request{method: "GET", url: "https://autodiscover." + domain + c.url}, c.status)
		})
	}
}
