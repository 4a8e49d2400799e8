package app

import (
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"

	"gannet/internal/config"
)

// acmeCerts serves certificates from an ACME CA (RFC 8555) through
// autocert: it answers the CA's TLS-ALPN-01 challenges (RFC 8737) and gets,
// caches (data_dir/acme) and renews a certificate per configured host.
//
// Mail clients are less tidy than browsers: some send no server name, some
// the server's address or another alias. Such a client gets the first host's
// certificate rather than a failed handshake (autocert would refuse it), and
// no name outside acme_hosts ever makes us ask the CA for a certificate.
type acmeCerts struct {
	m     *autocert.Manager
	hosts []string // A-labels, lower case; hosts[0] is the default
	log   *slog.Logger
}

func newACMECerts(cfg *config.Config, log *slog.Logger) *acmeCerts {
	hosts := slices.Clone(cfg.TLS.ACMEHosts)
	if len(hosts) == 0 {
		hosts = []string{cfg.Hostname}
	}
	m := &autocert.Manager{
		// The operator asked for ACME in the config file, whose
		// documentation names the CA; that is the agreement to its terms.
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
		HostPolicy: autocert.HostWhitelist(hosts...),
		Email:      cfg.TLS.ACMEEmail,
	}
	if cfg.TLS.ACMEDirectoryURL != "" {
		m.Client = &acme.Client{DirectoryURL: cfg.TLS.ACMEDirectoryURL}
	}
	return &acmeCerts{m: m, hosts: hosts, log: log.With("part", "acme")}
}

// tlsConfig is the configuration of every listener: TLS 1.2 at least (RFC
// 8996, RFC 8314 4.1) and no ALPN protocols for mail clients, so that a
// client offering ALPN "imap" or "smtp" is not refused for want of a match.
// A hello offering acme-tls/1 gets a configuration that negotiates it, as
// RFC 8737 3 requires of the challenge response.
func (c *acmeCerts) tlsConfig() *tls.Config {
	challenge := &tls.Config{
		GetCertificate: c.m.GetCertificate,
		NextProtos:     []string{acme.ALPNProto},
		MinVersion:     tls.VersionTLS12,
	}
	return &tls.Config{
		GetCertificate: c.getCertificate,
		MinVersion:     tls.VersionTLS12,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			if slices.Contains(hello.SupportedProtos, acme.ALPNProto) {
				return challenge, nil
			}
			return nil, nil // the configuration itself
		},
	}
}

// getCertificate serves the host's certificate, the first host's for any
// name not configured.
func (c *acmeCerts) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if a, err := idna.Lookup.ToASCII(name); err == nil {
		name = a
	}
	if !slices.Contains(c.hosts, name) {
		h := *hello
		h.ServerName = c.hosts[0]
		hello = &h
	}
	cert, err := c.m.GetCertificate(hello)
	if err != nil {
		c.log.Warn("no ACME certificate", "host", hello.ServerName, "err", err)
	}
	return cert, err
}
