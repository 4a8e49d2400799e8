package webmail

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"gannet/internal/autoconfig"
)

// withProfiles offers Apple profiles made by internal/autoconfig, as the
// application wires it.
func withProfiles(e *env) envOpts {
	h := autoconfig.New(autoconfig.Options{Hostname: "mail.example.org", Domains: e.st,
		Ports: func() autoconfig.Ports { return autoconfig.Ports{IMAPS: 993, Submissions: 465} }})
	return envOpts{mobileConfig: h.MobileConfig}
}

// TestMobileConfig: each user downloads the profile of their own account,
// whatever the request says; nobody else's, and nothing without a session.
func TestMobileConfig(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	e := base.peer(withProfiles(base))
	e.account("alice@example.org")
	e.account("bob@example.org")

	anon := e.client()
	if st, _, _ := anon.do("GET", "/api/mobileconfig", nil, ""); st != http.StatusUnauthorized {
		t.Errorf("without a session: %d", st)
	}
	for _, user := range []string{"alice@example.org", "bob@example.org"} {
		c := e.login(user)
		var info sessionInfo
		if st := c.json("GET", "/api/session", nil, &info); st != 200 || !info.MobileConfig {
			t.Errorf("session of %s: %d %+v, want mobileconfig offered", user, st, info)
		}
		for _, path := range []string{"/api/mobileconfig", "/api/mobileconfig?address=alice@example.org&emailaddress=bob@example.org"} {
			st, h, body := c.do("GET", path, nil, "")
			if st != 200 || h.Get("Content-Type") != autoconfig.MobileConfigType ||
				h.Get("Content-Disposition") != `attachment; filename="`+user+`.mobileconfig"` || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s GET %s: %d %v", user, path, st, h)
			}
			if !bytes.Contains(body, []byte("<key>EmailAddress</key>\n\t\t\t<string>"+user+"</string>")) ||
				strings.Count(string(body), "@example.org") != strings.Count(string(body), user) {
				t.Errorf("%s GET %s: a profile for someone else:\n%s", user, path, body)
			}
		}
	}

	// A server without profiles offers none.
	c := base.login("alice@example.org")
	var info sessionInfo
	if st := c.json("GET", "/api/session", nil, &info); st != 200 || info.MobileConfig {
		t.Errorf("session without profiles: %+v", info)
	}
	if st, _, _ := c.do("GET", "/api/mobileconfig", nil, ""); st != http.StatusNotFound {
		t.Errorf("mobileconfig not offered: %d", st)
	}
}

// TestBrowserMobileConfig: the UI shows the profile link when it is offered,
// and the browser's own request with its session gets the user's profile.
func TestBrowserMobileConfig(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	e := base.peer(withProfiles(base))
	e.account("alice@example.org")
	ctx, dlg := browser(t)
	run(t, ctx, "login", loginActions(e.base, "alice@example.org")...)
	waitFor(t, ctx, "profile link", "#mobileconfig")
	screenshot(t, ctx, "desktop-profile-link")
	href := get(t, ctx, "link", chromedp.Evaluate[string](`document.querySelector('#mobileconfig').getAttribute('href')`))
	if href != "/api/mobileconfig" {
		t.Errorf("link to %q", href)
	}
	got := get(t, ctx, "fetch profile", chromedp.Evaluate[string](
		`fetch('/api/mobileconfig').then(async r => r.status + ' ' + r.headers.get('Content-Type') + '\n' + await r.text())`,
		chromedp.EvalAwaitPromise))
	head, body, _ := strings.Cut(got, "\n")
	if head != "200 "+autoconfig.MobileConfigType || !strings.Contains(body, "<string>alice@example.org</string>") ||
		!strings.Contains(body, "<string>com.apple.mail.managed</string>") {
		t.Errorf("the browser got %q", got)
	}
	dlg.check(t)
}
