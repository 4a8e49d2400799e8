package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gannet/internal/app"
	"gannet/internal/config"
)

// cmdQuickstart writes a production config, creates the domain and the
// first account, and prints the DNS records, the systemd unit and what to
// do next, in that order. A second run changes nothing and says so.
func cmdQuickstart(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "quickstart", "you@example.com")
	host := fs.String("host", "", "this server's host name (default: mail.DOMAIN)")
	cfgPath := fs.String("config", "/etc/gannet/gannet.toml", "configuration file to write")
	data := fs.String("data", "/var/lib/gannet", "data directory")
	dry := fs.Bool("dry-run", false, "show what would be done, change nothing")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	q := app.Quickstart{Address: pos[0], Host: *host, DataDir: *data}
	domain, err := q.Normalize()
	if err != nil {
		return err
	}
	text, cfg, err := q.Config()
	if err != nil {
		return err
	}
	path, err := filepath.Abs(*cfgPath)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	exists := err == nil
	// The untouched example (as a package may install it) is no one's
	// edit: it is replaced.
	example := exists && bytes.Equal(old, []byte(config.Example()))
	var replaced os.FileInfo
	if example {
		if replaced, err = os.Stat(path); err != nil {
			return err
		}
	}
	if example {
		exists = false
	}
	switch {
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return err
	case exists && !bytes.Equal(old, []byte(text)):
		return fmt.Errorf("%s exists and is not the configuration quickstart writes for %s (edited, or written for other arguments); "+
			"nothing was changed. Add to it with 'gannet domain add --config %s' and 'gannet user add --config %s', "+
			"or move it away to start over", path, q.Address, path, path)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := e.stdout
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }

	var res app.QuickstartResult
	if *dry {
		say("Dry run: nothing is written.")
		if exists {
			say("config %s: already as quickstart writes it, unchanged", path)
		} else {
			say("would write config %s (hostname %s, domain %s, ACME certificates for %s, standard ports)", path, q.Host, domain, q.Host)
			if example {
				say("  (replacing the untouched example configuration there)")
			}
		}
		if res, err = q.Existing(ctx, cfg, log); err != nil {
			return err
		}
		if res.DomainAdded {
			say("would add domain %s with new DKIM keys (their records are printed by the real run)", domain)
		} else {
			say("domain %s: exists, unchanged", domain)
		}
		if res.AccountAdded {
			say("would add account %s with a generated password", q.Address)
		} else {
			say("account %s: exists, its password unchanged", q.Address)
		}
	} else {
		if !exists {
			if err := writeConfig(path, text, replaced); err != nil {
				return err
			}
			if example {
				say("wrote config %s (replacing the untouched example configuration)", path)
			} else {
				say("wrote config %s", path)
			}
		} else {
			say("config %s: unchanged", path)
		}
		if res, err = q.Setup(ctx, cfg, log); err != nil {
			return err
		}
		if err := app.ChownLike(cfg.DataDir); err != nil {
			return fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
		}
		if res.DomainAdded {
			say("added domain %s with DKIM keys", domain)
		} else {
			say("domain %s: exists, unchanged", domain)
		}
		if res.AccountAdded {
			say("added account %s", q.Address)
			say("  password: %s", res.Password)
			say("  (shown only this once: write it down; 'gannet user passwd --config %s %s' sets another)", path, q.Address)
		} else {
			say("account %s: exists, its password unchanged", q.Address)
		}
		if exists && !res.DomainAdded && !res.AccountAdded {
			say("Nothing changed: this server was already set up by quickstart.")
		}
	}

	say("\n== 1. DNS records to publish at your DNS provider for %s", domain)
	for _, r := range res.Records {
		say("%s", r.String())
	}
	say("%s.\t3600\tIN\tA\t<this server's public IPv4 address>", q.Host)
	say("%s.\t3600\tIN\tAAAA\t<this server's public IPv6 address, if it has one>", q.Host)
	say("and, at your hosting provider (not your DNS provider): the reverse DNS (PTR) of each address = %s", q.Host)

	say("\n== 2. Run it as a service")
	say("With the Debian package installed, its unit is in place: skip to 3.")
	say("Otherwise save this as /etc/systemd/system/gannet.service:\n")
	say("%s", unit(path, cfg.DataDir))
	say("and create its user: useradd --system --home-dir %s --shell /usr/sbin/nologin gannet && chown -R gannet:gannet %s",
		cfg.DataDir, cfg.DataDir)

	say("\n== 3. Next steps")
	say("  1. Publish the records of 1. (the PTR at your hosting provider); they may take an hour to be seen.")
	say("  2. Open TCP ports 25, 587, 465, 143, 993, 110, 995 and 443 in the firewall (e.g. ufw allow 25,587,465,143,993,110,995,443/tcp).")
	say("  3. Start it: systemctl daemon-reload && systemctl enable --now gannet")
	say("     (the first HTTPS connection to %s gets its certificate from Let's Encrypt)", q.Host)
	say("  4. Check everything from the outside: gannet doctor --config %s", path)
	say("  5. In Thunderbird: add a mail account with %s and its password; it finds the servers itself.", q.Address)
	say("     Webmail: https://%s/", q.Host)
	return nil
}

// writeConfig writes the config file, its directory created if needed.
// It holds no secret (example.toml: secrets live in files of their own), and
// the server's unprivileged user must read it: 0644, or the mode and owner
// of the file it replaces (a package's root:gannet 0640, say).
func writeConfig(path, text string, replaced os.FileInfo) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	// A temporary file renamed into place: a crash leaves the old file or
	// the whole new one, never half of it.
	tmp := path + ".quickstart.tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if err == nil && replaced != nil {
		err = f.Chmod(replaced.Mode().Perm())
		if st, ok := replaced.Sys().(*syscall.Stat_t); ok && err == nil && os.Geteuid() == 0 {
			err = f.Chown(int(st.Uid), int(st.Gid))
		}
	} else if err == nil {
		err = f.Chmod(0o644) // whatever the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// unit is a systemd unit for `gannet serve`: an unprivileged user that may
// bind the mail ports (CAP_NET_BIND_SERVICE), and a read-only system but
// for the data directory.
func unit(configPath, dataDir string) string {
	bin, err := os.Executable()
	if err != nil || strings.HasPrefix(bin, os.TempDir()) {
		bin = "/usr/local/bin/gannet"
	}
	return fmt.Sprintf(`[Unit]
Description=Gannet mail server
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=%s serve --config %s
ExecReload=/bin/kill -HUP $MAINPID
User=gannet
Group=gannet
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=true
PrivateTmp=true
ReadWritePaths=%s
LimitNOFILE=65536
Restart=on-failure

[Install]
WantedBy=multi-user.target`, bin, configPath, dataDir)
}
