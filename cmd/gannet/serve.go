package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"gannet/internal/app"
	"gannet/internal/config"
)

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "")
	cfgPath := fs.String("config", "/etc/gannet/gannet.toml", "configuration file")
	allowRoot := fs.Bool("allow-root", false, "keep running as root when the config sets no user (as allow_root = true)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, cfg)
	pre, err := dropPrivileges(ctx, cfg, *allowRoot, log)
	if err != nil {
		return err
	}
	serverGC()
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		if pre != nil {
			pre.Close()
		}
		return err
	}
	if pre != nil {
		a.UsePrebound(pre)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go reloadOnHUP(ctx, a, log)
	return a.Run(ctx)
}

// reloadOnHUP re-reads the TLS certificate on SIGHUP (as after a renewal).
func reloadOnHUP(ctx context.Context, a *app.App, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := a.ReloadTLS(); err != nil {
				log.Error("SIGHUP: certificate reload failed", "err", err)
			} else {
				log.Info("SIGHUP: certificate reloaded")
			}
		}
	}
}

func cmdDev(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "dev", "")
	dir := fs.String("data", "./gannet-data", "data directory (created if missing)")
	offset := fs.Int("port-offset", 0, "add this to every dev port (to run several dev servers side by side)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	serverGC()
	a, pw, err := app.DevSetup(ctx, *dir, *offset, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := a.Start(ctx); err != nil {
		a.Close()
		return err
	}
	fmt.Fprintf(e.stdout, "Gannet dev server\n")
	fmt.Fprintf(e.stdout, "  data directory: %s\n", a.Config.DataDir)
	fmt.Fprintf(e.stdout, "  certificate:    %s (self-signed)\n", a.Config.TLS.CertFile)
	fmt.Fprintf(e.stdout, "  account:        %s\n", app.DevAccount)
	fmt.Fprintf(e.stdout, "  password:       %s\n", pw)
	fmt.Fprintf(e.stdout, "  (plaintext login is allowed on loopback in dev mode; TLS ports use the self-signed certificate)\n")
	ls := a.Listeners()
	if len(ls) == 0 {
		fmt.Fprintf(e.stdout, "  (no protocol servers are built into this version yet)\n")
	}
	for _, l := range ls {
		addr := l.Addr
		if l.Name == "webmail" {
			addr = "http://" + addr + "/"
		}
		fmt.Fprintf(e.stdout, "  %-15s %s\n", l.Name+":", addr)
	}
	fmt.Fprintf(e.stdout, "Admin commands work on the same directory, e.g. gannet user add --data %s bob@gannet.test\n", a.Config.DataDir)
	fmt.Fprintf(e.stdout, "Press Ctrl-C to stop.\n")
	<-ctx.Done()
	if err := a.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
