package webmail

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"testing"
	"time"

	"gannet/internal/authlimit"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// env is one webmail server on a real listener over a real store (testopen).
type env struct {
	t    testing.TB
	st   store.Store
	srv  *Server
	base string
}

type envOpts struct {
	secure  bool
	limiter *authlimit.Limiter
	sender  Sender
	// now, idle and total set Options.Now, SessionIdle and SessionMax.
	now         func() time.Time
	idle, total time.Duration
	// mobileConfig sets Options.MobileConfig.
	mobileConfig func(string) ([]byte, error)
}

func newEnv(t testing.TB, o ...envOpts) *env {
	t.Helper()
	var opt envOpts
	if len(o) > 0 {
		opt = o[0]
	}
	st := testopen.Open(t, testopen.FastPasswords)
	return startEnv(t, st, opt)
}

// peer is another webmail server over e's store, as another node sharing
// the store would be.
func (e *env) peer(o ...envOpts) *env {
	var opt envOpts
	if len(o) > 0 {
		opt = o[0]
	}
	return startEnv(e.t, e.st, opt)
}

func startEnv(t testing.TB, st store.Store, opt envOpts) *env {
	t.Helper()
	srv := New(Options{
		Store: st, Sender: opt.sender, Limiter: opt.limiter, Secure: opt.secure, Hostname: "mail.example.org",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    opt.now, SessionIdle: opt.idle, SessionMax: opt.total, MobileConfig: opt.mobileConfig,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return &env{t: t, st: st, srv: srv, base: "http://" + ln.Addr().String()}
}

// account creates an account and returns it.
func (e *env) account(addr string) *store.Account {
	return storetest.NewAccount(e.t, e.st, addr, "pw-"+addr)
}

// mailbox returns the account's mailbox with a name.
func (e *env) mailbox(acct *store.Account, name string) *store.Mailbox {
	e.t.Helper()
	m, err := e.st.Mailbox(context.Background(), acct.ID, name)
	if err != nil {
		e.t.Fatalf("mailbox %s: %v", name, err)
	}
	return m
}

// deliver stores raw in the account's INBOX as SMTP would and returns the UID.
func (e *env) deliver(acct *store.Account, raw []byte) uint32 {
	e.t.Helper()
	res, err := e.st.Deliver(context.Background(), store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: acct.ID}}})
	if err != nil || res[0].Err != nil {
		e.t.Fatalf("deliver: %v %v", err, res)
	}
	return res[0].UID
}

// client is a browser-like API client: a cookie jar and the CSRF token.
type client struct {
	t    testing.TB
	hc   *http.Client
	base string
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: e.base}
}

// login logs in and fails the test if it does not work.
func (e *env) login(addr string) *client {
	e.t.Helper()
	c := e.client()
	var info sessionInfo
	if st := c.json("POST", "/api/login", loginRequest{Address: addr, Password: "pw-" + addr}, &info); st != 200 {
		e.t.Fatalf("login %s: status %d", addr, st)
	}
	c.csrf = info.CSRF
	return c
}

// do sends a request with the CSRF token (when known) and returns the
// status, headers and body.
func (c *client) do(method, path string, body io.Reader, ctype string) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// json sends in as JSON (nil = no body) and decodes the answer into out.
func (c *client) json(method, path string, in, out any) int {
	c.t.Helper()
	var body io.Reader
	ctype := ""
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
		ctype = "application/json"
	}
	st, _, b := c.do(method, path, body, ctype)
	if out != nil && st < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return st
}

// form posts a multipart form with fields and files (name → content).
func (c *client) form(path string, fields map[string][]string, files map[string]string, out any) (int, []byte) {
	c.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	for name, content := range files {
		fw, _ := w.CreateFormFile("file", name)
		fw.Write([]byte(content))
	}
	w.Close()
	st, _, b := c.do("POST", path, &buf, w.FormDataContentType())
	if out != nil && st < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("POST %s: decode %q: %v", path, b, err)
		}
	}
	return st, b
}

// list returns a page of a mailbox.
func (c *client) list(mid int64, query string) listJSON {
	c.t.Helper()
	var l listJSON
	path := "/api/mailboxes/" + itoa(mid) + "/messages"
	if query != "" {
		path += "?" + query
	}
	if st := c.json("GET", path, nil, &l); st != 200 {
		c.t.Fatalf("list %d: status %d", mid, st)
	}
	return l
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
