package app

import (
	"gannet/internal/webmail"
)

// serverSpec is one protocol server on one configured address.
type serverSpec struct {
	name        string
	addr        string
	implicitTLS bool
	srv         Server
}

// servers builds the protocol servers that exist, with their configured
// addresses. A listener configured as "" is skipped by Start.
func (a *App) servers() []serverSpec {
	cfg := a.Config
	var out []serverSpec
	// Webmail: HTTPS when a certificate is configured, except in dev mode where
	// it is plain HTTP on loopback (RFC 8314 does not cover HTTP; browsers treat
	// localhost as a secure context).
	webTLS := a.TLS != nil && !cfg.Dev
	out = append(out, serverSpec{
		name: "webmail", addr: cfg.Listeners.HTTP, implicitTLS: webTLS,
		srv: webmail.New(webmail.Options{
			Store: a.Store, Sender: a.sender(), Limiter: a.Limiter, Logger: a.Log.With("server", "webmail"),
			Secure: webTLS, Hostname: cfg.Hostname,
		}),
	})
	return out
}

// sender is the webmail's way to send mail.
func (a *App) sender() webmail.Sender {
	return webmail.LocalSender{Store: a.Store}
}
