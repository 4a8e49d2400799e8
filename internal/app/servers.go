package app

import (
	"gannet/internal/imapserver"
	"gannet/internal/pop3server"
	"gannet/internal/smtpserver"
	"gannet/internal/webmail"
)

// serverSpec is one protocol server on one configured address.
type serverSpec struct {
	name        string
	addr        string
	implicitTLS bool
	srv         Server
	// shortLived sessions (SMTP, POP3) have their own read timeouts and no use
	// for TCP keepalive, whose four setsockopt calls per accepted connection
	// showed in the MX's profile under load.
	shortLived bool
}

// servers builds the protocol servers that exist, with their configured
// addresses. A listener configured as "" is skipped by Start.
func (a *App) servers() []serverSpec {
	cfg := a.Config
	lim := cfg.Limits
	smtpOpts := func(mode smtpserver.Mode, name string) smtpserver.Options {
		return smtpserver.Options{
			Mode: mode, Hostname: cfg.Hostname, Store: a.Store, Deliverer: a.Deliverer, TLS: a.TLS, Dev: cfg.Dev,
			Limiter: a.Limiter, Logger: a.Log.With("server", name),
			MaxMessageBytes: lim.MaxMessageBytes, MaxRecipients: lim.MaxRecipients, MaxLineLength: lim.MaxLineLength,
			MaxConnsPerIP: lim.MaxConnectionsPerIP, Timeout: lim.SMTPTimeout.Duration,
			FreeSpace: a.Store.FreeBytes,
		}
	}
	mxOpts := smtpOpts(smtpserver.MX, "smtp")
	mxOpts.Checker = a.Checker
	mx := smtpserver.New(mxOpts)
	// One submission server serves both 587 (STARTTLS) and 465 (implicit TLS).
	sub := smtpserver.New(smtpOpts(smtpserver.Submission, "submission"))
	// One IMAP server for 143 and 993: it reads the change feed once for all.
	imap := imapserver.New(imapserver.Options{
		Store: a.Store, Hostname: cfg.Hostname, TLS: a.TLS, Dev: cfg.Dev, Limiter: a.Limiter,
		Logger: a.Log.With("server", "imap"), MaxLine: lim.MaxLineLength, MaxLiteral: lim.MaxMessageBytes,
		IdleTimeout: lim.IMAPIdleTimeout.Duration, PreauthTimeout: lim.IMAPPreauthTimeout.Duration,
	})
	pop := pop3server.New(pop3server.Options{
		Store: a.Store, Hostname: cfg.Hostname, TLS: a.TLS, Dev: cfg.Dev, Limiter: a.Limiter,
		Logger: a.Log.With("server", "pop3"), Timeout: lim.POP3Timeout.Duration,
	})
	// Webmail: HTTPS when a certificate is configured, except in dev mode where
	// it is plain HTTP on loopback (browsers treat localhost as a secure context).
	webTLS := a.TLS != nil && !cfg.Dev
	web := webmail.New(webmail.Options{
		Store: a.Store, Sender: submitSender{a}, Limiter: a.Limiter, Logger: a.Log.With("server", "webmail"),
		Secure: webTLS, Hostname: cfg.Hostname,
	})
	return []serverSpec{
		{name: "smtp", addr: cfg.Listeners.SMTP, srv: mx, shortLived: true},
		{name: "submission", addr: cfg.Listeners.Submission, srv: sub, shortLived: true},
		{name: "submissions", addr: cfg.Listeners.Submissions, implicitTLS: true, srv: sub, shortLived: true},
		{name: "imap", addr: cfg.Listeners.IMAP, srv: imap},
		{name: "imaps", addr: cfg.Listeners.IMAPS, implicitTLS: true, srv: imap},
		{name: "pop3", addr: cfg.Listeners.POP3, srv: pop, shortLived: true},
		{name: "pop3s", addr: cfg.Listeners.POP3S, implicitTLS: true, srv: pop, shortLived: true},
		{name: "webmail", addr: cfg.Listeners.HTTP, implicitTLS: webTLS, srv: web},
		{name: "admin", addr: cfg.Listeners.Admin, srv: newAdminServer(a)},
	}
}
