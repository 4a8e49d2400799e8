package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the configured certificate and picks up a renewed one
// without a restart: it re-reads the files when their modification time changes
// (checked at most every checkEvery) and when Reload is called (SIGHUP).
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
	checked time.Time
}

const checkEvery = 10 * time.Second

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the certificate and key again. On error the old pair stays.
func (r *certReloader) Reload() error {
	fi, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	r.mu.Lock()
	r.cert = &cert
	r.modTime = fi.ModTime()
	r.checked = r.now()
	r.mu.Unlock()
	return nil
}

// GetCertificate is the tls.Config hook.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	stale := r.now().Sub(r.checked) > checkEvery
	if stale {
		r.checked = r.now()
	}
	cert, mod := r.cert, r.modTime
	r.mu.Unlock()
	if stale {
		if fi, err := os.Stat(r.certFile); err == nil && !fi.ModTime().Equal(mod) {
			if err := r.Reload(); err != nil {
				r.log.Error("certificate changed but could not be loaded; keeping the old one", "err", err)
			} else {
				r.log.Info("certificate reloaded", "file", r.certFile)
				r.mu.Lock()
				cert = r.cert
				r.mu.Unlock()
			}
		}
	}
	return cert, nil
}

// tlsConfig is the server TLS configuration: TLS 1.2 minimum (RFC 8996; RFC 8314 4.1).
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}
