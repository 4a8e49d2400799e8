package webmail

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"gannet/internal/authlimit"
)

func cookieOf(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	res := http.Response{Header: h}
	cs := res.Cookies()
	if len(cs) != 1 {
		t.Fatalf("want one cookie, got %v", h.Values("Set-Cookie"))
	}
	return cs[0]
}

func TestLoginCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		e := newEnv(t, envOpts{secure: secure})
		e.account("alice@example.org")
		c := e.client()
		st, h, body := c.do("POST", "/api/login", strings.NewReader(`{"address":"Alice@Example.org","password":"pw-alice@example.org"}`), "application/json")
		if st != 200 {
			t.Fatalf("secure=%v: login status %d %s", secure, st, body)
		}
		ck := cookieOf(t, h)
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Domain != "" {
			t.Errorf("secure=%v: cookie attributes %+v", secure, ck)
		}
		if ck.Secure != secure {
			t.Errorf("secure=%v: cookie Secure=%v", secure, ck.Secure)
		}
		if secure && h.Get("Strict-Transport-Security") == "" {
			t.Error("no HSTS header under TLS")
		}
		if secure && !strings.HasPrefix(ck.Name, "__Host-") {
			t.Errorf("secure cookie name %q lacks __Host- prefix", ck.Name)
		}
		raw := h.Get("Set-Cookie")
		if !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
			t.Errorf("Set-Cookie %q", raw)
		}
		if strings.Contains(string(body), "pw-") {
			t.Errorf("login answer echoes the password: %s", body)
		}
	}
}

func TestLoginFailureLooksTheSame(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.account("alice@example.org")
	c := e.client()
	st1, _, b1 := c.do("POST", "/api/login", strings.NewReader(`{"address":"alice@example.org","password":"wrong"}`), "application/json")
	st2, _, b2 := c.do("POST", "/api/login", strings.NewReader(`{"address":"nobody@example.org","password":"wrong"}`), "application/json")
	if st1 != 401 || st2 != 401 || string(b1) != string(b2) {
		t.Errorf("wrong password: %d %s; unknown account: %d %s", st1, b1, st2, b2)
	}
	if st, _, _ := c.do("POST", "/api/login", strings.NewReader(`{"address":`), "application/json"); st != 400 {
		t.Errorf("malformed login: status %d", st)
	}
}

func TestLoginLimiter(t *testing.T) {
	t.Parallel()
	// A clock that never moves keeps every failure inside the window, and a
	// zero MaxDelay cap would be replaced by the default: use a tiny one.
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	lim := authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond, Now: func() time.Time { return now }})
	e := newEnv(t, envOpts{limiter: lim})
	e.account("alice@example.org")
	c := e.client()
	bad := `{"address":"alice@example.org","password":"wrong"}`
	for i := range 3 {
		if st, _, _ := c.do("POST", "/api/login", strings.NewReader(bad), "application/json"); st != 401 {
			t.Fatalf("failure %d: status %d", i, st)
		}
	}
	st, _, body := c.do("POST", "/api/login", strings.NewReader(`{"address":"alice@example.org","password":"pw-alice@example.org"}`), "application/json")
	if st != http.StatusTooManyRequests {
		t.Fatalf("after 3 failures with a limit of 2: status %d %s, want 429", st, body)
	}
	if c.hc.Jar.Cookies(mustURL(t, e.base)) != nil {
		t.Error("a refused login set a session cookie")
	}
}

func TestSessionAndLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.account("alice@example.org")
	c := e.login("alice@example.org")
	var info sessionInfo
	if st := c.json("GET", "/api/session", nil, &info); st != 200 || info.Address != "alice@example.org" || info.CSRF != c.csrf {
		t.Fatalf("session: %d %+v", st, info)
	}
	saved := c.hc.Jar.Cookies(mustURL(t, e.base))
	if st := c.json("POST", "/api/logout", nil, nil); st != 204 {
		t.Fatalf("logout: %d", st)
	}
	if st := c.json("GET", "/api/session", nil, nil); st != 401 {
		t.Errorf("session after logout: %d", st)
	}
	// The old cookie, replayed, is dead too.
	c2 := e.client()
	c2.hc.Jar.SetCookies(mustURL(t, e.base), saved)
	if st := c2.json("GET", "/api/mailboxes", nil, nil); st != 401 {
		t.Errorf("replayed cookie after logout: %d", st)
	}
}

func TestForgedCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.account("alice@example.org")
	c := e.login("alice@example.org")
	u := mustURL(t, e.base)
	ck := c.hc.Jar.Cookies(u)[0]
	v := ck.Value
	flip := string(v[:len(v)-1]) + map[bool]string{true: "B", false: "A"}[v[len(v)-1] == 'A']
	for _, v := range []string{flip, v[:len(v)-1], v + "A", v + ".AAAA", strings.Repeat(v, 4), ""} {
		c2 := e.client()
		c2.hc.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: v}})
		if st := c2.json("GET", "/api/mailboxes", nil, nil); st != 401 {
			t.Errorf("cookie %q: status %d", v, st)
		}
	}
}

func TestEveryAPIEndpointNeedsASession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	for _, r := range [][2]string{
		{"GET", "/api/session"}, {"POST", "/api/logout"}, {"GET", "/api/mailboxes"}, {"POST", "/api/mailboxes"},
		{"PATCH", "/api/mailboxes/1"}, {"DELETE", "/api/mailboxes/1"}, {"POST", "/api/mailboxes/1/empty"},
		{"GET", "/api/mailboxes/1/messages"}, {"GET", "/api/mailboxes/1/messages/1"},
		{"GET", "/api/mailboxes/1/messages/1/body"}, {"GET", "/api/mailboxes/1/messages/1/parts/1"},
		{"POST", "/api/mailboxes/1/messages/flags"}, {"POST", "/api/mailboxes/1/messages/move"},
		{"POST", "/api/mailboxes/1/messages/delete"}, {"GET", "/api/identities"}, {"POST", "/api/send"},
		{"POST", "/api/drafts"}, {"GET", "/api/events"},
	} {
		if st, _, _ := c.do(r[0], r[1], strings.NewReader("{}"), "application/json"); st != 401 {
			t.Errorf("%s %s without session: %d", r[0], r[1], st)
		}
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	c := e.login("alice@example.org")
	body := `{"name":"Projects"}`
	send := func(token string, hdr map[string]string) int {
		req, _ := http.NewRequest("POST", e.base+"/api/mailboxes", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("X-CSRF-Token", token)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := c.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := send("", nil); st != 403 {
		t.Errorf("no token: %d", st)
	}
	if st := send("wrong", nil); st != 403 {
		t.Errorf("wrong token: %d", st)
	}
	if st := send(c.csrf, map[string]string{"Origin": "http://evil.example"}); st != 403 {
		t.Errorf("cross-origin with token: %d", st)
	}
	if st := send(c.csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}); st != 403 {
		t.Errorf("Sec-Fetch-Site cross-site with token: %d", st)
	}
	if _, err := e.st.Mailbox(t.Context(), alice.ID, "Projects"); err == nil {
		t.Fatal("a refused request created the folder")
	}
	if st := send(c.csrf, map[string]string{"Origin": e.base, "Sec-Fetch-Site": "same-origin"}); st != 201 {
		t.Errorf("same-origin with token: %d", st)
	}
	// Login CSRF: a cross-site form cannot log the victim into our account.
	req, _ := http.NewRequest("POST", e.base+"/api/login", strings.NewReader(`{"address":"alice@example.org","password":"pw-alice@example.org"}`))
	req.Header.Set("Origin", "http://evil.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("cross-origin login: %d", res.StatusCode)
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.client()
	st, h, body := c.do("GET", "/", nil, "")
	if st != 200 || !strings.Contains(string(body), `src="/app.js"`) {
		t.Fatalf("index: %d %s", st, body)
	}
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("app CSP allows unsafe sources: %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", h)
	}
	for path, ctype := range map[string]string{"/app.js": "javascript", "/app.css": "text/css", "/compose.js": "javascript", "/m/1": "text/html"} {
		st, h, _ := c.do("GET", path, nil, "")
		if st != 200 || !strings.Contains(h.Get("Content-Type"), ctype) {
			t.Errorf("%s: %d %q", path, st, h.Get("Content-Type"))
		}
	}
	if st, _, _ := c.do("GET", "/api/nothing", nil, ""); st != 404 {
		t.Errorf("unknown API path: %d", st)
	}
}
