package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/autoconfig"
	"gannet/internal/config"
	"gannet/internal/mailauth"
)

// autoconfigApp is a production-mode Gannet whose certificate also covers
// the service names of prodDomain, with the accounts prodUser and bob.
func autoconfigApp(t *testing.T) *prodEnv {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Hostname = prodHost
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Domains = []string{prodDomain}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	names := []string{prodHost, "autoconfig." + prodDomain, "autodiscover." + prodDomain, "mta-sts." + prodDomain}
	if _, err := EnsureSelfSigned(certFile, keyFile, names, time.Now()); err != nil {
		t.Fatal(err)
	}
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	lo := "127.0.0.1:0"
	cfg.Listeners = config.Listeners{SMTP: lo, Submission: lo, Submissions: lo, IMAP: lo, IMAPS: lo, POP3S: lo, HTTP: lo}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{prodUser, "bob@" + prodDomain} {
		if _, err := a.Store.AddAccount(context.Background(), u, prodPassword); err != nil {
			a.Close()
			t.Fatal(err)
		}
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	return &prodEnv{app: a, certFile: certFile, roots: roots}
}

// client is an HTTPS client that reaches the webmail listener under any
// name, verifying the certificate for that name.
func (e *prodEnv) httpsClient() *http.Client {
	addr := e.addr("webmail")
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: ioWait, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: e.roots, MinVersion: tls.VersionTLS12},
	}}
}

// curlGet fetches url with curl through the webmail listener and returns the
// status, Content-Type and body.
func (e *prodEnv) curlGet(t *testing.T, url string, header ...string) (int, string, []byte) {
	t.Helper()
	args := []string{"-sS", "--max-time", "30", "--cacert", e.certFile, "--connect-to", "::" + e.addr("webmail"),
		"-o", "-", "-w", "\n%{http_code} %{content_type}"}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	out, err := exec.Command("curl", append(args, url)...).Output()
	if err != nil {
		t.Fatalf("curl %s: %v", url, err)
	}
	i := bytes.LastIndexByte(out, '\n')
	code, ctype, _ := strings.Cut(string(out[i+1:]), " ")
	status, _ := strconv.Atoi(code)
	return status, ctype, out[:i]
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// TestClientAutoconfig: the whole server answers every client's settings
// request on its HTTPS listener with its hostname and the ports it is bound
// to; serves the MTA-STS policy whose id `domain dns` prints; and gives a
// logged-in webmail user the Apple profile of their own account only.
func TestClientAutoconfig(t *testing.T) {
	t.Parallel()
	e := autoconfigApp(t)
	hc := e.httpsClient()
	get := func(url string) (int, string, []byte) {
		t.Helper()
		res, err := hc.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), b
	}

	// Thunderbird: the bound ports, TLS first; POP3 without STARTTLS
	// (no listener) is left out.
	url := "https://autoconfig." + prodDomain + "/mail/config-v1.1.xml?emailaddress=" + prodUser
	st, ctype, body := get(url)
	if st != 200 || ctype != "application/xml; charset=utf-8" {
		t.Fatalf("autoconfig: %d %q %s", st, ctype, body)
	}
	var cc autoconfig.ClientConfig
	if err := xml.Unmarshal(body, &cc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range append(cc.Provider.Incoming, cc.Provider.Outgoing...) {
		if s.Hostname != prodHost {
			t.Errorf("server %+v: hostname is not %s", s, prodHost)
		}
		got = append(got, s.Type+" "+strconv.Itoa(s.Port)+" "+s.SocketType)
	}
	want := []string{
		"imap " + strconv.Itoa(port(t, e.addr("imaps"))) + " SSL", "imap " + strconv.Itoa(port(t, e.addr("imap"))) + " STARTTLS",
		"pop3 " + strconv.Itoa(port(t, e.addr("pop3s"))) + " SSL",
		"smtp " + strconv.Itoa(port(t, e.addr("submissions"))) + " SSL", "smtp " + strconv.Itoa(port(t, e.addr("submission"))) + " STARTTLS",
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("servers %q, want %q", got, want)
	}
	if cst, cct, cbody := e.curlGet(t, url); cst != st || cct != ctype || !bytes.Equal(cbody, body) {
		t.Errorf("curl got %d %q %s", cst, cct, cbody)
	}

	// Autodiscover (JSON v2, then POX).
	st, ctype, body = get("https://autodiscover." + prodDomain + "/autodiscover/autodiscover.json?Email=" + prodUser + "&Protocol=AutodiscoverV1")
	var v2 autoconfig.AutodiscoverV2
	if st != 200 || ctype != "application/json; charset=utf-8" || json.Unmarshal(body, &v2) != nil ||
		v2.URL != "https://autodiscover."+prodDomain+"/autodiscover/autodiscover.xml" {
		t.Fatalf("autodiscover.json: %d %q %s", st, ctype, body)
	}
	req := `<Autodiscover><Request><EMailAddress>` + prodUser + `</EMailAddress></Request></Autodiscover>`
	res, err := hc.Post(v2.URL, "text/xml", strings.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(body, []byte("<Port>"+strconv.Itoa(port(t, e.addr("imaps")))+"</Port>")) ||
		!bytes.Contains(body, []byte("<Server>"+prodHost+"</Server>")) {
		t.Errorf("autodiscover.xml: %d %s", res.StatusCode, body)
	}

	// MTA-STS: the policy served is the one whose id the printout gives.
	st, ctype, policy := get("https://mta-sts." + prodDomain + "/.well-known/mta-sts.txt")
	if st != 200 || ctype != "text/plain" || !bytes.Contains(policy, []byte("mx: "+prodHost+"\r\n")) {
		t.Fatalf("mta-sts.txt: %d %q %q", st, ctype, policy)
	}
	if cst, cct, cbody := e.curlGet(t, "https://mta-sts."+prodDomain+"/.well-known/mta-sts.txt"); cst != 200 || cct != "text/plain" || !bytes.Equal(cbody, policy) {
		t.Errorf("curl got %d %q %q", cst, cct, cbody)
	}
	recs, err := DNSRecords(context.Background(), e.app.Store, prodDomain, prodHost)
	if err != nil {
		t.Fatal(err)
	}
	printed := map[string]string{}
	for _, r := range recs {
		printed[r.Name+" "+r.Type] = r.Data
	}
	if id := regexp.MustCompile(`id=([A-Za-z0-9]+)`).FindStringSubmatch(printed["_mta-sts."+prodDomain+". TXT"]); id == nil ||
		id[1] != mailauth.MTASTSID(string(policy)) {
		t.Errorf("printed _mta-sts record %q does not name the served policy (id %s)", printed["_mta-sts."+prodDomain+". TXT"], mailauth.MTASTSID(string(policy)))
	}
	for _, name := range []string{"mta-sts.", "autoconfig.", "autodiscover."} {
		if printed[name+prodDomain+". CNAME"] != prodHost+"." {
			t.Errorf("printed %s%s CNAME %q, want %s.", name, prodDomain, printed[name+prodDomain+". CNAME"], prodHost)
		}
	}
	for _, srv := range []string{"_imaps", "_submissions", "_pop3s", "_autodiscover"} {
		if !strings.HasSuffix(printed[srv+"._tcp."+prodDomain+". SRV"], " "+prodHost+".") {
			t.Errorf("printed %s SRV %q", srv, printed[srv+"._tcp."+prodDomain+". SRV"])
		}
	}

	// The webmail still answers on the server's name.
	if st, ctype, body := get("https://" + prodHost + "/"); st != 200 || !strings.HasPrefix(ctype, "text/html") || !bytes.Contains(body, []byte("Gannet")) {
		t.Errorf("webmail page: %d %q", st, ctype)
	}

	// The Apple profile: only logged in, only one's own.
	mc := "https://" + prodHost + "/api/mobileconfig"
	if st, _, _ := get(mc); st != http.StatusUnauthorized {
		t.Errorf("mobileconfig without a session: %d", st)
	}
	login := func(hc *http.Client, user string) {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"address": user, "password": prodPassword})
		res, err := hc.Post("https://"+prodHost+"/api/login", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Contains(b, []byte(`"mobileconfig":true`)) {
			t.Fatalf("login %s: %d %s", user, res.StatusCode, b)
		}
	}
	login(hc, prodUser)
	bobClient := e.httpsClient()
	login(bobClient, "bob@"+prodDomain)
	for _, u := range []string{mc, mc + "?address=bob@" + prodDomain, mc + "?emailaddress=bob@" + prodDomain} {
		res, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != autoconfig.MobileConfigType ||
			res.Header.Get("Content-Disposition") != `attachment; filename="alice@prod.test.mobileconfig"` {
			t.Fatalf("GET %s: %d %v", u, res.StatusCode, res.Header)
		}
		if !bytes.Contains(body, []byte("<string>"+prodUser+"</string>")) || bytes.Contains(body, []byte("bob@")) ||
			!bytes.Contains(body, []byte("<integer>"+strconv.Itoa(port(t, e.addr("imaps")))+"</integer>")) {
			t.Errorf("GET %s: alice got\n%s", u, body)
		}
	}
	// bob's session, through curl: bob's profile.
	u, _ := http.NewRequest("GET", mc, nil)
	var cookie []string
	for _, c := range bobClient.Jar.Cookies(u.URL) {
		cookie = append(cookie, c.Name+"="+c.Value)
	}
	st, ctype, body = e.curlGet(t, mc, "Cookie: "+strings.Join(cookie, "; "))
	if st != 200 || ctype != autoconfig.MobileConfigType || !bytes.Contains(body, []byte("<string>bob@"+prodDomain+"</string>")) ||
		bytes.Contains(body, []byte(prodUser)) {
		t.Errorf("bob's profile through curl: %d %q\n%s", st, ctype, body)
	}
}
