package app

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"

	"gannet/internal/imapserver"
	"gannet/internal/login"
	"gannet/internal/managesieve"
	"gannet/internal/netserver"
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
	// proto names the protocol in metrics; refusal is its answer to a
	// connection over the limits (inside TLS on implicit-TLS listeners).
	proto   string
	refusal []byte
	// clientFirst: the client speaks first (HTTP), see netserver.Config.
	clientFirst bool
	// native servers run on netserver themselves (SMTP, IMAP, POP3): they
	// get the raw listener, marked for implicit TLS, and apply the limits,
	// PROXY headers, refusal and registry themselves. The others (HTTP) get
	// it wrapped in a netserver.Listener (and tls.NewListener for implicit
	// TLS).
	native bool
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
	proxies := cfg.Listeners.Proxies()
	// One login service for every protocol: its hashing cap bounds the
	// memory argon2id may take in the whole process, and its limiter
	// (a.Limiter, replaced by tests before Start) is the one all share.
	logins := login.New(a.Store, a.Limiter, login.Config{Logger: a.Log.With("part", "login")})
	smtpOpts := func(mode smtpserver.Mode, name string) smtpserver.Options {
		return smtpserver.Options{
			Mode: mode, Hostname: cfg.Hostname, Store: a.Store, Deliverer: a.Deliverer, TLS: a.TLS, Dev: cfg.Dev,
			Limiter: a.Limiter, Login: logins, Logger: a.Log.With("server", name),
			MaxMessageBytes: lim.MaxMessageBytes, MaxRecipients: lim.MaxRecipients, MaxLineLength: lim.MaxLineLength,
			Timeout: lim.SMTPTimeout.Duration, HandshakeTimeout: lim.TLSHandshakeTimeout.Duration,
			Conns: a.Conns, Registry: a.Registry, TrustedProxies: proxies,
			FreeSpace: freeSpaceFunc(a.Store),
		}
	}
	mxOpts := smtpOpts(smtpserver.MX, "smtp")
	mxOpts.Checker = a.Checker
	mx := smtpserver.New(mxOpts)
	// One submission server serves both 587 (STARTTLS) and 465 (implicit TLS).
	sub := smtpserver.New(smtpOpts(smtpserver.Submission, "submission"))
	// One IMAP server for 143 and 993: it reads the change feed once for all.
	imap := imapserver.New(imapserver.Options{
		Store: a.Store, Hostname: cfg.Hostname, TLS: a.TLS, Dev: cfg.Dev, Limiter: a.Limiter, Login: logins,
		Logger: a.Log.With("server", "imap"), MaxLine: lim.MaxLineLength, MaxLiteral: lim.MaxMessageBytes,
		IdleTimeout: lim.IMAPIdleTimeout.Duration, PreauthTimeout: lim.IMAPPreauthTimeout.Duration,
		HandshakeTimeout: lim.TLSHandshakeTimeout.Duration,
		Conns:            a.Conns, Registry: a.Registry, TrustedProxies: proxies,
	})
	pop := pop3server.New(pop3server.Options{
		Store: a.Store, Hostname: cfg.Hostname, TLS: a.TLS, Dev: cfg.Dev, Limiter: a.Limiter, Login: logins,
		Logger: a.Log.With("server", "pop3"), Timeout: lim.POP3Timeout.Duration, PreauthTimeout: lim.POP3PreauthTimeout.Duration,
		HandshakeTimeout: lim.TLSHandshakeTimeout.Duration,
		Conns:            a.Conns, Registry: a.Registry, TrustedProxies: proxies,
	})
	sieve := managesieve.New(managesieve.Options{
		Store: a.Store, Hostname: cfg.Hostname, TLS: a.TLS, Dev: cfg.Dev, Limiter: a.Limiter, Login: logins,
		Logger: a.Log.With("server", "managesieve"), HandshakeTimeout: lim.TLSHandshakeTimeout.Duration,
		Conns: a.Conns, Registry: a.Registry, TrustedProxies: proxies,
	})
	webTLS := a.webTLS()
	// Client autoconfiguration and MTA-STS answer before the webmail.
	ac := a.newAutoconfig()
	web := webmail.New(webmail.Options{
		Front: ac.Wrap, MobileConfig: ac.MobileConfig,
		Store: a.Store, Sender: submitSender{a}, Limiter: a.Limiter, Login: logins, Logger: a.Log.With("server", "webmail"),
		// Behind a TLS-terminating proxy the browser speaks HTTPS: Secure
		// cookies still work, and must be used.
		Secure: webTLS || (cfg.Webmail.AllowPlainHTTP && !cfg.Dev), Hostname: cfg.Hostname,
	})
	a.mu.Lock()
	// Every server that holds logged-in sessions, for EndAccount.
	a.enders = []sessionEnder{imap, pop, sub, web, sieve}
	a.mu.Unlock()
	return []serverSpec{
		{name: "smtp", addr: cfg.Listeners.SMTP, srv: mx, native: true, shortLived: true},
		{name: "submission", addr: cfg.Listeners.Submission, srv: sub, native: true, shortLived: true},
		{name: "submissions", addr: cfg.Listeners.Submissions, implicitTLS: true, srv: sub, native: true, shortLived: true},
		{name: "imap", addr: cfg.Listeners.IMAP, srv: imap, native: true},
		{name: "imaps", addr: cfg.Listeners.IMAPS, implicitTLS: true, srv: imap, native: true},
		{name: "pop3", addr: cfg.Listeners.POP3, srv: pop, native: true, shortLived: true},
		{name: "pop3s", addr: cfg.Listeners.POP3S, implicitTLS: true, srv: pop, native: true, shortLived: true},
		{name: "managesieve", addr: cfg.Listeners.ManageSieve, srv: sieve, native: true},
		{name: "webmail", addr: cfg.Listeners.HTTP, implicitTLS: webTLS, srv: web, proto: "http", refusal: netserver.RefusalHTTP, clientFirst: true},
		{name: "admin", addr: cfg.Listeners.Admin, srv: newAdminServer(a), proto: "admin", refusal: netserver.RefusalHTTP, clientFirst: true},
	}
}

// webTLS reports whether the webmail serves HTTPS: when a certificate is
// configured, except in dev mode where it is plain HTTP on loopback
// (browsers treat localhost as a secure context).
func (a *App) webTLS() bool { return a.TLS != nil && !a.Config.Dev }

// checkPlainHTTP refuses a production webmail that would serve its login
// page and session cookie over plain HTTP on a non-loopback address, unless
// [webmail] allow_plain_http says a TLS-terminating proxy is in front, in
// which case it says so loudly (issue 13, finding 9).
func (a *App) checkPlainHTTP() error {
	cfg := a.Config
	addr := cfg.Listeners.HTTP
	if addr == "" || cfg.Dev || a.webTLS() || loopbackAddr(addr) {
		return nil
	}
	if !cfg.Webmail.AllowPlainHTTP {
		return fmt.Errorf("webmail on %s would take passwords over plain HTTP: configure [tls] (cert_file and key_file, or acme), "+
			"listen on a loopback address, or set [webmail] allow_plain_http = true if a TLS-terminating proxy is in front", addr)
	}
	a.Log.Warn("WEBMAIL SERVES PLAIN HTTP on a non-loopback address ([webmail] allow_plain_http = true): "+
		"passwords and session cookies cross the network in the clear unless a TLS-terminating proxy is in front", "addr", addr)
	return nil
}

// loopbackAddr reports whether a "host:port" listens on loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// wrap wraps a bound listener for its server: a native server (SMTP, IMAP,
// POP3) gets it as it is, marked for implicit TLS, and applies the shared
// limits, PROXY headers and registry itself (wrapping it here too would count
// each connection twice); the HTTP servers get the shared limits, PROXY
// headers and connection registry here, then implicit TLS.
func (a *App) wrap(s serverSpec, ln net.Listener) net.Listener {
	if s.native {
		if s.implicitTLS {
			return netserver.TLSListener(ln, a.TLS)
		}
		return ln
	}
	cfg := netserver.Config{
		Proto: s.proto, Limiter: a.Conns, Registry: a.Registry, TrustedProxies: a.Config.Listeners.Proxies(),
		Refusal: s.refusal, ClientFirst: s.clientFirst, Logger: a.Log.With("server", s.name),
	}
	if s.implicitTLS {
		cfg.RefusalTLS = a.TLS // the refusal goes inside TLS
	}
	nl := netserver.NewListener(ln, cfg)
	if s.implicitTLS {
		// net/http runs the handshake itself.
		return tls.NewListener(nl, a.TLS)
	}
	return nl
}
