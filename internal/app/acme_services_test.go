package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gannet/internal/config"
)

// TestACMEServiceNames: besides acme_hosts, autocert may get certificates
// for autoconfig., autodiscover. and mta-sts. of every hosted domain, as
// the store says at the time of the handshake (a domain added to the
// running server counts at once), and for no other name. As in TestACME,
// certificates a CA would have issued sit in autocert's cache and the CA
// itself is unreachable: a name that gets its own certificate but has none
// cached fails the handshake (autocert would have to ask the CA), while a
// name that gets none is served the first host's.
func TestACMEServiceNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Hostname = "mx.acme.test"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Domains = []string{"acme.test"}
	cfg.Listeners = config.Listeners{HTTP: "127.0.0.1:0"}
	cfg.TLS = config.TLS{ACME: true, ACMEDirectoryURL: "http://127.0.0.1:1/directory"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(cfg.DataDir, "acme")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	// The cached certificates: the host's and mta-sts.acme.test's.
	cached := map[string][]byte{}
	for _, name := range []string{"mx.acme.test", "mta-sts.acme.test"} {
		certFile, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		if _, err := EnsureSelfSigned(certFile, keyFile, []string{name}, time.Now()); err != nil {
			t.Fatal(err)
		}
		certPEM, _ := os.ReadFile(certFile)
		keyPEM, _ := os.ReadFile(keyFile)
		if err := os.WriteFile(filepath.Join(cache, name), append(keyPEM, certPEM...), 0o600); err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(certPEM)
		cached[name] = block.Bytes
	}

	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	addr := a.Listeners()[0].Addr

	// served is the certificate a handshake for name gets, nil when the
	// handshake fails.
	served := func(name string) []byte {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, ioWait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(ioWait))
		tc := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			return nil
		}
		return tc.ConnectionState().PeerCertificates[0].Raw
	}
	check := func(name, want string) {
		t.Helper()
		got := served(name)
		switch {
		case want == "" && got != nil:
			t.Errorf("%s: a certificate was served; want a failed handshake (its own, from the CA)", name)
		case want != "" && !bytes.Equal(got, cached[want]):
			t.Errorf("%s: served %s, want %s's certificate", name, describe(got, cached), want)
		}
	}
	check("mx.acme.test", "mx.acme.test")
	check("mta-sts.acme.test", "mta-sts.acme.test")
	check("MTA-STS.acme.test.", "mta-sts.acme.test")
	// Service names of a hosted domain without a cached certificate: their
	// own, from the CA (which is not there).
	check("autoconfig.acme.test", "")
	check("autodiscover.acme.test", "")
	// Anything else gets the host's: other labels, the bare domain,
	// service names of domains not hosted, deeper names.
	check("www.acme.test", "mx.acme.test")
	check("acme.test", "mx.acme.test")
	check("mta-sts.other.test", "mx.acme.test")
	check("autoconfig.x.acme.test", "mx.acme.test")
	check("", "mx.acme.test")

	// A domain added while running: its service names count at once.
	if err := AddDomain(context.Background(), a.Store, "other.test", time.Now()); err != nil {
		t.Fatal(err)
	}
	check("mta-sts.other.test", "")

	// The policy autocert asks before it orders a certificate.
	c := newACMECerts(cfg, a.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for name, ok := range map[string]bool{
		"mx.acme.test": true, "autoconfig.acme.test": true, "autodiscover.acme.test": true, "mta-sts.acme.test": true,
		"mta-sts.other.test": true, "acme.test": false, "www.acme.test": false, "mta-sts.nowhere.test": false,
		"imap.acme.test": false, "autoconfig.": false,
	} {
		if err := c.m.HostPolicy(context.Background(), name); (err == nil) != ok {
			t.Errorf("HostPolicy(%q) = %v, want allowed %v", name, err, ok)
		}
	}
}

// describe names a served certificate for an error message.
func describe(got []byte, cached map[string][]byte) string {
	if got == nil {
		return "nothing (the handshake failed)"
	}
	for name, der := range cached {
		if bytes.Equal(got, der) {
			return name + "'s certificate"
		}
	}
	return "an unknown certificate"
}
