// Command prodconfig writes the /etc/gannet/gannet.toml of the Debian
// package: the documented example (internal/config/example.toml) with the
// values a packaged install needs, so that the two never drift apart. Every
// edit must apply and the result must load, or it fails (release.sh and the
// packaging test run it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gannet/internal/config"
)

const header = `# /etc/gannet/gannet.toml, installed by the gannet Debian package.
#
# Set hostname, domains and postmaster below (or run gannet quickstart), then
# start the server: systemctl enable --now gannet
# The server runs as the user "gannet" (systemd unit gannet.service); this
# file is root:gannet 0640 because it may hold the smarthost password.
#
`

// edits are (old, new) pairs applied once each to the example.
func edits() [][2]string {
	return [][2]string{
		{"user = \"\"\n", "user = \"gannet\"\n"},
		// Certificates from Let's Encrypt: nothing to copy into /etc with the
		// right owner, and renewed without a cron job.
		{"cert_file = \"/etc/gannet/tls/fullchain.pem\"\nkey_file = \"/etc/gannet/tls/privkey.pem\"\n", "cert_file = \"\"\nkey_file = \"\"\n"},
		{"acme = false\n", "acme = true\n"},
		{"[queue.transports]\n\"example.net\" = \"mx.example.net:25\"\n", "[queue.transports]\n"},
	}
}

func main() {
	out := flag.String("o", "", "file to write (required)")
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: prodconfig -o FILE")
		os.Exit(2)
	}
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "prodconfig:", err)
		os.Exit(1)
	}
}

// production returns the packaged configuration.
func production() (string, error) {
	s := config.Example()
	for _, e := range edits() {
		if strings.Count(s, e[0]) != 1 {
			return "", fmt.Errorf("example.toml no longer has exactly one %q: update packaging/prodconfig", e[0])
		}
		s = strings.Replace(s, e[0], e[1], 1)
	}
	return header + s, nil
}

func write(path string) error {
	s, err := production()
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return err
	}
	c, err := config.Load(path)
	if err != nil {
		return fmt.Errorf("the packaged config does not load: %w", err)
	}
	if c.User != "gannet" || !c.TLS.ACME || c.DataDir != "/var/lib/gannet" {
		return errors.New("the packaged config lost user, acme or data_dir")
	}
	return os.Chmod(filepath.Clean(path), 0o640)
}
