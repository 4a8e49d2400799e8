// Package acmetest runs a throwaway ACME CA for tests: Let's Encrypt's
// pebble on free 127.0.0.1 ports, from the Go module in tools/pebble, so
// that a test can have a real certificate issued through the TLS-ALPN-01
// challenge (RFC 8737) without reaching any real CA.
//
// The pebble binary is found, in this order: the path in
// GANNET_TEST_PEBBLE; the cached build in the user cache directory; else it
// is built there now from tools/pebble. A test never skips because pebble is
// missing.
package acmetest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"gannet/internal/testtool"
)

// EnvBinary names the environment variable with pebble's path.
const EnvBinary = "GANNET_TEST_PEBBLE"

// Version is the pebble release tools/pebble pins; the cached binary is
// named after it.
const Version = "v2.10.3"

// Options configure a CA.
type Options struct {
	// DNSServer ("127.0.0.1:port") is where pebble resolves the names it
	// validates. Required: pebble must never ask the real DNS.
	DNSServer string
	// TLSPort is the port pebble connects to for TLS-ALPN-01 (443 in real
	// life; the test server's HTTPS port here).
	TLSPort int
}

// Server is one running pebble.
type Server struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// APICertFile is a PEM file with the certificate of pebble's own HTTPS
	// endpoint: ACME clients must trust it (SSL_CERT_FILE for a process).
	APICertFile string

	mgmt   string
	api    *x509.CertPool
	cmd    *exec.Cmd
	exited chan struct{}
	out    *testtool.Output
	once   sync.Once
	dir    string
}

// Start starts pebble and stops it when t ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DNSServer == "" || opts.TLSPort == 0 {
		t.Fatal("acmetest: DNSServer and TLSPort are required")
	}
	bin, err := Binary(context.Background())
	if err != nil {
		t.Fatalf("acmetest: %v", err)
	}
	s := &Server{dir: t.TempDir(), exited: make(chan struct{}), out: &testtool.Output{}}
	t.Cleanup(s.Stop)
	s.APICertFile = filepath.Join(s.dir, "api-cert.pem")
	keyFile := filepath.Join(s.dir, "api-key.pem")
	certPEM, err := writeAPICert(s.APICertFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s.api = x509.NewCertPool()
	s.api.AppendCertsFromPEM(certPEM)
	apiPort, mgmtPort := freePort(t), freePort(t)
	s.DirectoryURL = fmt.Sprintf("https://127.0.0.1:%d/dir", apiPort)
	s.mgmt = fmt.Sprintf("127.0.0.1:%d", mgmtPort)
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", apiPort),
		"managementListenAddress":        s.mgmt,
		"certificate":                    s.APICertFile,
		"privateKey":                     keyFile,
		"httpPort":                       freePort(t), // HTTP-01 is not used
		"tlsPort":                        opts.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
	}}
	b, _ := json.Marshal(cfg)
	cfgFile := filepath.Join(s.dir, "pebble.json")
	if err := os.WriteFile(cfgFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgFile, "-dnsserver", opts.DNSServer)
	// No random sleep before validating, no nonces refused on purpose:
	// the test is about Gannet, not about pebble's chaos.
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("acmetest: start pebble: %v", err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.exited:
			t.Fatalf("acmetest: pebble exited at start: %s", s.Output())
		default:
		}
		if _, err := s.get(context.Background(), s.DirectoryURL); err == nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("acmetest: pebble did not answer within 30 s: %s", s.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Output is what pebble logged, for a failing test's message.
func (s *Server) Output() string { return testtool.Tail(s.out.String(), 4000) }

// Stop kills pebble.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
}

// Roots returns the pool of pebble's root certificate, which issued
// everything it signed: a client verifying a served chain trusts this.
// The PEM is returned too.
func (s *Server) Roots(ctx context.Context) (*x509.CertPool, []byte, error) {
	b, err := s.get(ctx, "https://"+s.mgmt+"/roots/0")
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, nil, fmt.Errorf("acmetest: no certificate in pebble's root: %q", b)
	}
	return pool, b, nil
}

func (s *Server) get(ctx context.Context, url string) ([]byte, error) {
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.api}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}

// writeAPICert makes the self-signed certificate of pebble's HTTPS
// endpoints, for 127.0.0.1 and localhost.
func writeAPICert(certFile, keyFile string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "pebble test API"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	return certPEM, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
}

// Binary returns the path of a pebble binary, building it when needed.
func Binary(ctx context.Context) (string, error) { return tool().Binary(ctx) }

// tool is pebble's module in tools/pebble, built once into the user cache.
func tool() testtool.Tool {
	return testtool.Tool{Dir: "pebble", Name: "pebble", Version: Version,
		Package: "github.com/letsencrypt/pebble/v2/cmd/pebble", Env: EnvBinary}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
