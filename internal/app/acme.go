package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
	"golang.org/x/net/idna"

	"gannet/internal/autoconfig"
	"gannet/internal/config"
)

// acmeCerts serves certificates from an ACME CA (RFC 8555) through
// autocert: it answers the CA's TLS-ALPN-01 challenges (RFC 8737) and gets,
// caches (data_dir/acme) and renews a certificate per configured host.
//
// Mail clients are less tidy than browsers: some send no server name, some
// the server's address or another alias. Such a client gets the first host's
// certificate rather than a failed handshake (autocert would refuse it), and
// no name outside acme_hosts and the service names of hosted domains ever
// makes us ask the CA for a certificate.
//
// The service names, autoconfig.D, autodiscover.D and mta-sts.D for each
// hosted domain D, are what mail clients and sending MTAs fetch settings
// and the MTA-STS policy from over HTTPS (internal/autoconfig; RFC 8461 3.3
// requires a valid certificate for mta-sts.D). They are checked against the
// store's domains when a client asks (cached for store.DomainTTL), so a
// domain added to a running server gets its certificates without a restart.
type acmeCerts struct {
	m       *autocert.Manager
	hosts   []string // A-labels, lower case; hosts[0] is the default
	domains autoconfig.Domains
	log     *slog.Logger
}

func newACMECerts(cfg *config.Config, domains autoconfig.Domains, log *slog.Logger) *acmeCerts {
	hosts := slices.Clone(cfg.TLS.ACMEHosts)
	if len(hosts) == 0 {
		hosts = []string{cfg.Hostname}
	}
	c := &acmeCerts{hosts: hosts, domains: domains, log: log.With("part", "acme")}
	c.m = &autocert.Manager{
		// The operator asked for ACME in the config file, whose
		// documentation names the CA; that is the agreement to its terms.
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(filepath.Join(cfg.DataDir, "acme")),
		HostPolicy: c.hostPolicy,
		Email:      cfg.TLS.ACMEEmail,
	}
	if cfg.TLS.ACMEDirectoryURL != "" {
		c.m.Client = &acme.Client{DirectoryURL: cfg.TLS.ACMEDirectoryURL}
	}
	return c
}

// hostPolicy is autocert's HostPolicy: the configured hosts and the
// service names of hosted domains. autocert hands it names already in
// lower-case A-labels without a trailing dot.
func (c *acmeCerts) hostPolicy(ctx context.Context, host string) error {
	if c.allowed(ctx, host) {
		return nil
	}
	return fmt.Errorf("acme: %q is neither in tls.acme_hosts nor a service name of a hosted domain", host)
}

// allowed reports whether name (lower case, A-labels) gets its own
// certificate.
func (c *acmeCerts) allowed(ctx context.Context, name string) bool {
	if slices.Contains(c.hosts, name) {
		return true
	}
	_, domain, ok := autoconfig.ServiceDomain(name)
	if !ok || c.domains == nil {
		return false
	}
	local, err := c.domains.IsLocalDomain(ctx, domain)
	if err != nil {
		c.log.Warn("cannot tell whether a domain is hosted", "domain", domain, "err", err)
		return false
	}
	return local
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
// name that gets none of its own.
func (c *acmeCerts) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if a, err := idna.Lookup.ToASCII(name); err == nil {
		name = a
	}
	ctx := hello.Context()
	if ctx == nil { // a hello made by hand, not by crypto/tls
		ctx = context.Background()
	}
	if !c.allowed(ctx, name) {
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
