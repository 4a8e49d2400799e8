package app

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"gannet/internal/config"
)

// Prebind binds what Start would have bound, the same way.
func TestPrebindMatchesServers(t *testing.T) {
	t.Parallel()
	cfg := config.DevConfig(t.TempDir())
	cfg.TLS = config.TLS{}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	specs := listenSpecs(cfg.Listeners)
	servers := a.servers()
	if len(specs) != len(servers) {
		t.Fatalf("%d listen specs, %d servers", len(specs), len(servers))
	}
	for i, s := range servers {
		want := listenSpec{s.name, s.addr, s.shortLived}
		if specs[i] != want {
			t.Errorf("listen spec %d = %+v, server has %+v", i, specs[i], want)
		}
	}
}

// Start serves the prebound listeners; the one it does not serve is closed
// with the App.
func TestPrebound(t *testing.T) {
	t.Parallel()
	cfg := config.DevConfig(t.TempDir())
	cfg.TLS = config.TLS{}
	cfg.Listeners = config.Listeners{SMTP: "127.0.0.1:0", IMAP: "127.0.0.1:0"}
	p, err := Prebind(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	smtpAddr := p.lns["smtp"].Addr().String()
	imapAddr := p.lns["imap"].Addr().String()
	// IMAP is switched off after binding: Start never takes its listener.
	cfg.Listeners.IMAP = ""
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.UsePrebound(p)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := listener(t, a, "smtp"); got != smtpAddr {
		t.Errorf("smtp served on %s, prebound %s", got, smtpAddr)
	}
	c, err := net.Dial("tcp", smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(line, "220 ") {
		t.Errorf("greeting %q, %v", line, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", imapAddr); err == nil {
		c.Close()
		t.Error("the untaken prebound listener is still open after Close")
	}
}
