package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme"

	"gannet/internal/config"
)

// TestACME: with [tls] acme = true, every TLS listener gets its certificates
// from autocert. No CA is reachable here, so the test puts a certificate in
// autocert's cache (data_dir/acme) as a CA would have left it, points the
// directory at a closed loopback port (so that nothing can ever reach a real
// CA), and checks what clients are served.
func TestACME(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Hostname = "mx.acme.test"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Domains = []string{"acme.test"}
	cfg.Listeners = config.Listeners{IMAPS: "127.0.0.1:0", Submission: "127.0.0.1:0", HTTP: "127.0.0.1:0"}
	cfg.TLS = config.TLS{ACME: true, ACMEHosts: []string{"mx.acme.test", "mail.acme.test"},
		ACMEDirectoryURL: "http://127.0.0.1:1/directory"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	// The cached certificate of the first host: key then chain, PEM, in a
	// file named after the host (autocert's DirCache layout for ECDSA).
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if _, err := EnsureSelfSigned(certFile, keyFile, []string{"mx.acme.test"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	certPEM, _ := os.ReadFile(certFile)
	keyPEM, _ := os.ReadFile(keyFile)
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "acme"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "acme", "mx.acme.test"), append(keyPEM, certPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	want := block.Bytes

	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	if a.TLS == nil || a.TLS.GetCertificate == nil || a.TLS.MinVersion != tls.VersionTLS12 || len(a.TLS.Certificates) != 0 {
		t.Fatalf("a.TLS = %+v, want autocert's GetCertificate and TLS 1.2 minimum", a.TLS)
	}
	// RFC 8737 3: a challenge hello negotiates acme-tls/1; mail clients get
	// no ALPN offer at all.
	if c, err := a.TLS.GetConfigForClient(&tls.ClientHelloInfo{SupportedProtos: []string{acme.ALPNProto}}); err != nil ||
		c == nil || !slices.Equal(c.NextProtos, []string{acme.ALPNProto}) || c.GetCertificate == nil {
		t.Errorf("config for an acme-tls/1 hello: %+v, %v", c, err)
	}
	if c, err := a.TLS.GetConfigForClient(&tls.ClientHelloInfo{SupportedProtos: []string{"imap"}}); c != nil || err != nil {
		t.Errorf("config for a mail client: %+v, %v", c, err)
	}

	addrs := map[string]string{}
	for _, l := range a.Listeners() {
		addrs[l.Name] = l.Addr
	}
	served := func(t *testing.T, addr, serverName string, starttls bool) ([]byte, error) {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, ioWait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioWait))
		if starttls {
			// The server says nothing until the client speaks, so the
			// reader holds nothing of the TLS stream when it starts.
			r := bufio.NewReader(c)
			r.ReadString('\n') // 220 greeting
			io.WriteString(c, "STARTTLS\r\n")
			if l, _ := r.ReadString('\n'); !strings.HasPrefix(l, "220 ") {
				t.Fatalf("STARTTLS: %q", l)
			}
		}
		// The chain is checked below by its bytes: the cached one or not.
		tc := tls.Client(c, &tls.Config{ServerName: serverName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		return tc.ConnectionState().PeerCertificates[0].Raw, nil
	}
	for _, c := range []struct {
		name, listener, serverName string
		starttls                   bool
	}{
		{"https", "webmail", "mx.acme.test", false},
		{"imaps", "imaps", "mx.acme.test", false},
		{"submission STARTTLS", "submission", "mx.acme.test", true},
		{"no server name", "imaps", "", false},
		{"unknown name", "imaps", "other.example", false},
		{"upper case", "webmail", "MX.ACME.TEST", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := served(t, addrs[c.listener], c.serverName, c.starttls)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("served a certificate other than the cached one")
			}
		})
	}
	// A configured host without a certificate needs the CA, which is not
	// there: the handshake fails rather than falling back to another name.
	t.Run("host without certificate", func(t *testing.T) {
		if _, err := served(t, addrs["imaps"], "mail.acme.test", false); err == nil {
			t.Error("handshake succeeded without a certificate for mail.acme.test")
		}
	})
	// The certificate verifies for the name by ordinary client rules.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	tc, err := tls.Dial("tcp", addrs["imaps"], &tls.Config{ServerName: "mx.acme.test", RootCAs: roots})
	if err != nil {
		t.Fatalf("verified handshake: %v", err)
	}
	tc.Close()
}
