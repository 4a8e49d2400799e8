package app

import (
	"context"
	"fmt"
	"net"

	"gannet/internal/config"
)

// Prebound holds listeners bound before the App exists. `gannet serve`
// started as root binds them, gives up root (internal/runas), and only then
// calls New, so that the store, the certificates and everything that reads
// client input run unprivileged (docs/ARCHITECTURE.md, "Running
// unprivileged"). Start takes each server's listener from here instead of
// binding it.
type Prebound struct {
	lns map[string]net.Listener // by server name
}

// listenSpec is what binding one listener needs; servers() must agree
// (TestPrebindMatchesServers).
type listenSpec struct {
	name, addr string
	shortLived bool
}

func listenSpecs(l config.Listeners) []listenSpec {
	return []listenSpec{
		{"smtp", l.SMTP, true},
		{"submission", l.Submission, true},
		{"submissions", l.Submissions, true},
		{"imap", l.IMAP, false},
		{"imaps", l.IMAPS, false},
		{"pop3", l.POP3, true},
		{"pop3s", l.POP3S, true},
		{"managesieve", l.ManageSieve, false},
		{"webmail", l.HTTP, false},
		{"admin", l.Admin, false},
	}
}

// listenConfig is how Start binds a listener: short-lived sessions (SMTP,
// POP3) go without TCP keepalive (see serverSpec.shortLived).
func listenConfig(shortLived bool) net.ListenConfig {
	var lc net.ListenConfig
	if shortLived {
		lc.KeepAlive = -1
	}
	return lc
}

// Prebind binds every configured listener of cfg. On error none stays open.
func Prebind(ctx context.Context, cfg *config.Config) (*Prebound, error) {
	p := &Prebound{lns: make(map[string]net.Listener)}
	for _, s := range listenSpecs(cfg.Listeners) {
		if s.addr == "" {
			continue
		}
		lc := listenConfig(s.shortLived)
		ln, err := lc.Listen(ctx, "tcp", s.addr)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("listen %s on %s: %w", s.name, s.addr, err)
		}
		p.lns[s.name] = ln
	}
	return p, nil
}

// Close closes the listeners Start has not taken.
func (p *Prebound) Close() {
	for name, ln := range p.lns {
		ln.Close()
		delete(p.lns, name)
	}
}

// UsePrebound makes Start serve p's listeners instead of binding its own.
// Call it before Start; Close closes any that Start did not take.
func (a *App) UsePrebound(p *Prebound) {
	a.mu.Lock()
	a.prebound = p
	a.mu.Unlock()
}

// listen binds s, or takes its prebound listener.
func (a *App) listen(ctx context.Context, s serverSpec) (net.Listener, error) {
	// Under a.mu: shutdown closes what is left of a.prebound.
	a.mu.Lock()
	var ln net.Listener
	if p := a.prebound; p != nil {
		ln = p.lns[s.name]
		delete(p.lns, s.name)
	}
	a.mu.Unlock()
	if ln != nil {
		return ln, nil
	}
	lc := listenConfig(s.shortLived)
	return lc.Listen(ctx, "tcp", s.addr)
}
