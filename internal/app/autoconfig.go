package app

import (
	"net"
	"strconv"

	"gannet/internal/autoconfig"
	"gannet/internal/mailauth"
)

// newAutoconfig makes the handler that answers mail clients' settings
// requests and the MTA-STS policy in front of the webmail, on the HTTPS
// listener (docs/ARCHITECTURE.md, "Client autoconfiguration"). It names the
// configured hostname and the ports the listeners are bound to.
func (a *App) newAutoconfig() *autoconfig.Handler {
	host := a.Config.Hostname
	return autoconfig.New(autoconfig.Options{
		Hostname: host,
		Ports:    a.clientPorts,
		Domains:  a.Store,
		MTASTSPolicy: func(domain string) string {
			return mailauth.MTASTSPolicy(dnsConfig(domain, host))
		},
		Logger: a.Log.With("server", "webmail"),
	})
}

// clientPorts are the ports of the bound mail listeners; one not
// configured (or not yet bound) is 0. A load balancer in front that maps
// ports differently would need them configured; Gannet's defaults are the
// standard ports.
func (a *App) clientPorts() autoconfig.Ports {
	var p autoconfig.Ports
	for _, l := range a.Listeners() {
		_, s, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		port, err := strconv.Atoi(s)
		if err != nil {
			continue
		}
		switch l.Name {
		case "imaps":
			p.IMAPS = port
		case "imap":
			p.IMAP = port
		case "pop3s":
			p.POP3S = port
		case "pop3":
			p.POP3 = port
		case "submissions":
			p.Submissions = port
		case "submission":
			p.Submission = port
		}
	}
	return p
}
