package app

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gannet/internal/config"
	"gannet/internal/store"
	"gannet/internal/store/sqlstore"
)

// DevAccount is the demo account `gannet dev` creates.
const DevAccount = "demo@gannet.test"

// DevSetup prepares a dev data directory: the directory itself, a self-signed
// certificate, the domain gannet.test and the demo account. The demo password is
// random on first run and kept in DIR/demo-password so that later runs print the
// same one (clients set up once keep working).
// portOffset is added to every dev port, so that several dev servers (or tests)
// can run side by side.
func DevSetup(ctx context.Context, dataDir string, portOffset int, log *slog.Logger) (*App, string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, "", err
	}
	// Private before the key is written into it (issue 13, finding 7).
	if err := sqlstore.PrepareDataDir(abs, log); err != nil {
		return nil, "", err
	}
	cfg := config.DevConfig(abs)
	if portOffset != 0 {
		if err := offsetPorts(&cfg.Listeners, portOffset); err != nil {
			return nil, "", err
		}
	}
	if _, err := EnsureSelfSigned(cfg.TLS.CertFile, cfg.TLS.KeyFile,
		[]string{"localhost", "gannet.test", "127.0.0.1", "::1"}, time.Now()); err != nil {
		return nil, "", fmt.Errorf("dev certificate: %w", err)
	}
	a, err := New(ctx, cfg, log)
	if err != nil {
		return nil, "", err
	}
	pwFile := filepath.Join(abs, "demo-password")
	pw, err := os.ReadFile(pwFile)
	password := strings.TrimSpace(string(pw))
	if err != nil || password == "" {
		password = randomPassword()
	}
	_, err = a.Store.AddAccount(ctx, DevAccount, password)
	switch {
	case errors.Is(err, store.ErrExists):
		// Keep the account; make sure the printed password is the right one.
		if _, aerr := a.Store.Authenticate(ctx, DevAccount, password); aerr != nil {
			if err := a.Store.SetPassword(ctx, DevAccount, password); err != nil {
				a.Close()
				return nil, "", err
			}
		}
	case err != nil:
		a.Close()
		return nil, "", fmt.Errorf("demo account: %w", err)
	}
	if err := writeFileSync(pwFile, []byte(password+"\n"), 0o600); err != nil {
		a.Close()
		return nil, "", err
	}
	return a, password, nil
}

func randomPassword() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func offsetPorts(l *config.Listeners, off int) error {
	for _, p := range []*string{&l.SMTP, &l.Submission, &l.Submissions, &l.IMAP, &l.IMAPS, &l.POP3, &l.POP3S, &l.HTTP, &l.ManageSieve, &l.Admin} {
		if *p == "" {
			continue
		}
		host, port, err := net.SplitHostPort(*p)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(port)
		if err != nil || n+off <= 0 || n+off > 65535 {
			return fmt.Errorf("port offset %d: port %s out of range", off, port)
		}
		*p = net.JoinHostPort(host, strconv.Itoa(n+off))
	}
	return nil
}
