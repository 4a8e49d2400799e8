package autoconfig_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/autoconfig"
	"gannet/internal/mailauth"
	"gannet/internal/store"
	"gannet/internal/store/testopen"
)

// The fixtures: one hosted domain, a server name, and names of a domain that
// is not hosted (in the test certificate too, so that a client reaches the
// server and sees its 404 rather than a certificate error).
const (
	domain   = "example.test"
	hostname = "mail.example.test"
	other    = "other.test"
	alice    = "alice@example.test"
)

// standardPorts are what a production server listens on.
func standardPorts() autoconfig.Ports {
	return autoconfig.Ports{IMAPS: 993, IMAP: 143, POP3S: 995, POP3: 110, Submissions: 465, Submission: 587}
}

// env is the handler in front of a stand-in webmail, on a real HTTPS
// listener on 127.0.0.1:0, over a real store (testopen).
type env struct {
	t        *testing.T
	st       store.Store
	h        *autoconfig.Handler
	addr     string // the listener
	certFile string // the server's certificate, PEM, for curl
	hc       *http.Client
}

// webmailPage is what the stand-in webmail answers, so that a test sees
// which requests got past the handler.
const webmailPage = "the webmail\n"

func newEnv(t *testing.T, ports autoconfig.Ports) *env {
	t.Helper()
	st := testopen.Open(t)
	if err := st.AddDomain(context.Background(), domain); err != nil {
		t.Fatal(err)
	}
	h := autoconfig.New(autoconfig.Options{
		Hostname: hostname,
		Ports:    func() autoconfig.Ports { return ports },
		Domains:  st,
		MTASTSPolicy: func(d string) string {
			return mailauth.MTASTSPolicy(mailauth.DNSConfig{Domain: d, Host: hostname})
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	webmail := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, webmailPage)
	})
	dir := t.TempDir()
	cert, certPEM := selfSigned(t, hostname, domain, other,
		"autoconfig."+domain, "autodiscover."+domain, "mta-sts."+domain,
		"autoconfig."+other, "autodiscover."+other, "mta-sts."+other)
	certFile := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.Wrap(webmail), ReadHeaderTimeout: 10 * time.Second}
	tln := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(tln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	addr := ln.Addr().String()
	// Every name in a URL reaches the listener, as DNS would send it there;
	// the certificate is verified for the URL's name.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}}
	t.Cleanup(hc.CloseIdleConnections)
	return &env{t: t, st: st, h: h, addr: addr, certFile: certFile, hc: hc}
}

// selfSigned makes a certificate for names, and its PEM.
func selfSigned(t *testing.T, names ...string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// request is one HTTP request of a test.
type request struct {
	method, url string
	body        string
	ctype       string
}

// answer is what a client got.
type answer struct {
	status int
	ctype  string
	body   []byte
}

// goClient sends r with Go's net/http client.
func (e *env) goClient(r request) answer {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, r.url, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	res, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read: %v", r.method, r.url, err)
	}
	return answer{status: res.StatusCode, ctype: res.Header.Get("Content-Type"), body: b}
}

// curl sends r with curl, which connects every name to the listener and
// verifies the certificate against the test's.
func (e *env) curl(r request) answer {
	e.t.Helper()
	dir := e.t.TempDir()
	headers, out := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	args := []string{"-sS", "--max-time", "30", "--cacert", e.certFile, "--connect-to", "::" + e.addr,
		"-X", r.method, "-D", headers, "-o", out}
	if r.body != "" {
		in := filepath.Join(dir, "request")
		if err := os.WriteFile(in, []byte(r.body), 0o600); err != nil {
			e.t.Fatal(err)
		}
		args = append(args, "--data-binary", "@"+in)
	}
	if r.ctype != "" {
		args = append(args, "-H", "Content-Type: "+r.ctype)
	}
	args = append(args, r.url)
	cmd := exec.Command("curl", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		e.t.Fatalf("curl %s %s: %v: %s", r.method, r.url, err, stderr.String())
	}
	hb, err := os.ReadFile(headers)
	if err != nil {
		e.t.Fatal(err)
	}
	body, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, os.ErrNotExist) { // no body: no file
		e.t.Fatal(err)
	}
	var a answer
	a.body = body
	// With a large body curl sends "Expect: 100-continue": the dump then
	// holds the interim 100 response first. The final one is the last.
	blocks := strings.Split(strings.TrimSpace(string(hb)), "\r\n\r\n")
	for i, line := range strings.Split(blocks[len(blocks)-1], "\r\n") {
		if i == 0 {
			// "HTTP/1.1 200 OK" or "HTTP/2 200"
			f := strings.Fields(line)
			if len(f) < 2 {
				e.t.Fatalf("curl status line %q", line)
			}
			a.status, _ = strconv.Atoi(f[1])
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Type") {
			a.ctype = strings.TrimSpace(v)
		}
	}
	if a.status == 0 {
		e.t.Fatalf("curl: no status in %q", hb)
	}
	return a
}

// both sends r with both clients, checks that they got the same answer
// with the wanted status, and returns it.
func (e *env) both(r request, status int) answer {
	e.t.Helper()
	g, c := e.goClient(r), e.curl(r)
	if g.status != status {
		e.t.Errorf("%s %s: status %d, want %d; body %q", r.method, r.url, g.status, status, g.body)
	}
	if c.status != g.status || c.ctype != g.ctype || !bytes.Equal(c.body, g.body) {
		e.t.Errorf("%s %s: curl got %d %q %q, Go %d %q %q", r.method, r.url, c.status, c.ctype, c.body, g.status, g.ctype, g.body)
	}
	return g
}

// golden compares got with testdata/name, or writes it there when
// GANNET_UPDATE_GOLDEN is set.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if os.Getenv("GANNET_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (GANNET_UPDATE_GOLDEN=1 writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}
