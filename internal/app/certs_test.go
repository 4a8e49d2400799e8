package app

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func leafSerial(t *testing.T, c *tls.Certificate) string {
	t.Helper()
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.SerialNumber.String()
}

// TestCertReload: a renewed certificate is served after its file changes, and a
// broken replacement keeps the old one.
func TestCertReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	now := time.Now()
	if _, err := EnsureSelfSigned(cert, key, []string{"localhost"}, now); err != nil {
		t.Fatal(err)
	}
	r, err := newCertReloader(cert, key, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := now
	r.now = func() time.Time { return clock }
	c1, _ := r.GetCertificate(nil)
	first := leafSerial(t, c1)

	os.Remove(cert)
	os.Remove(key)
	if _, err := EnsureSelfSigned(cert, key, []string{"localhost"}, now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	os.Chtimes(cert, later, later)
	if c, _ := r.GetCertificate(nil); leafSerial(t, c) != first {
		t.Fatal("reloaded before the check interval")
	}
	clock = clock.Add(2 * checkEvery)
	c2, _ := r.GetCertificate(nil)
	if leafSerial(t, c2) == first {
		t.Fatal("renewed certificate not picked up")
	}
	// A broken file does not replace a working certificate.
	os.WriteFile(cert, []byte("garbage"), 0o644)
	if err := r.Reload(); err == nil {
		t.Fatal("Reload of a broken certificate succeeded")
	}
	if c, _ := r.GetCertificate(nil); leafSerial(t, c) != leafSerial(t, c2) {
		t.Fatal("broken certificate replaced the working one")
	}
}
