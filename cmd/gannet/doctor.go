package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/dnsx"
	"gannet/internal/doctor"
)

// cmdDoctor checks a domain's live DNS, certificate and ports from the
// outside and says what to fix (internal/doctor).
func cmdDoctor(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "doctor", "[DOMAIN]  (default: every domain in the store)")
	cfgPath := fs.String("config", "/etc/gannet/gannet.toml", "configuration file (hostname, listeners, data_dir)")
	host := fs.String("host", "", "this server's host name (default: hostname of --config)")
	dns := fs.String("dns", "", "DNS server to ask, host:port (default: the first nameserver of /etc/resolv.conf); "+
		"give your DNS provider's authoritative server to check records before they propagate")
	caFile := fs.String("ca-file", "", "PEM file of extra CA certificates to trust (a private or test CA)")
	timeout := fs.Duration("timeout", 10*time.Second, "time allowed for each lookup and connection")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	h := cfg.Hostname
	if *host != "" {
		h = *host
	}
	roots, err := rootCAs(*caFile)
	if err != nil {
		return err
	}
	server := *dns
	if server == "" {
		server = dnsx.SystemServer()
	}
	ports, err := listenerPorts(cfg.Listeners)
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer st.Close()
	domains := pos
	if len(domains) == 0 {
		ds, err := st.Domains(ctx)
		if err != nil {
			return err
		}
		for _, d := range ds {
			domains = append(domains, d.Name)
		}
		if len(domains) == 0 {
			return errors.New("no domains in the store: add one with 'gannet domain add' or 'gannet quickstart'")
		}
	}
	fmt.Fprintf(e.stdout, "asking DNS server %s\n", server)
	failed := 0
	for _, d := range domains {
		dc, err := app.DomainDNS(ctx, st, d, h)
		if err != nil {
			return fmt.Errorf("domain %s: %w", d, err)
		}
		rs, err := doctor.Run(ctx, doctor.Options{
			DNS:      dc,
			Resolver: dnsx.Client{Server: server, Timeout: *timeout},
			Ports:    ports,
			RootCAs:  roots,
			Timeout:  *timeout,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "== %s (served by %s)\n", d, h)
		for _, r := range rs {
			fmt.Fprintln(e.stdout, r.String())
			if r.Status == doctor.Fail {
				failed++
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d checks failed", failed)
	}
	fmt.Fprintln(e.stdout, "no check failed")
	return nil
}

// rootCAs is the system's roots plus the certificates of file.
func rootCAs(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--ca-file: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// listenerPorts are the ports of the configured listeners (0 = off).
func listenerPorts(l config.Listeners) (doctor.Ports, error) {
	var p doctor.Ports
	for _, x := range []struct {
		addr string
		port *int
	}{
		{l.SMTP, &p.SMTP}, {l.Submission, &p.Submission}, {l.Submissions, &p.Submissions},
		{l.IMAP, &p.IMAP}, {l.IMAPS, &p.IMAPS}, {l.POP3, &p.POP3}, {l.POP3S, &p.POP3S}, {l.HTTP, &p.HTTPS},
	} {
		if x.addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(x.addr)
		if err != nil {
			return p, err
		}
		if *x.port, err = strconv.Atoi(port); err != nil {
			return p, err
		}
	}
	return p, nil
}
