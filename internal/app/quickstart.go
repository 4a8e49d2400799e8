package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/idna"

	"gannet/internal/config"
	"gannet/internal/mailauth"
	"gannet/internal/store"
)

// Quickstart is what `gannet quickstart` sets up: one domain served by one
// host, with ACME certificates, and its first account.
type Quickstart struct {
	Address string // the first account, e.g. you@example.com
	Host    string // this server's name; "" = mail.<domain>
	DataDir string // "" = /var/lib/gannet
}

// Normalize checks the address and fills in the defaults; Domain is the
// address's domain afterwards.
func (q *Quickstart) Normalize() (domain string, err error) {
	at := strings.LastIndexByte(q.Address, '@')
	if at <= 0 || at == len(q.Address)-1 || strings.ContainsAny(q.Address, " \t\r\n\"<>,;") {
		return "", fmt.Errorf("%q is not an email address like you@example.com", q.Address)
	}
	domain, err = idna.Lookup.ToASCII(strings.ToLower(strings.TrimSuffix(q.Address[at+1:], ".")))
	if err != nil || !strings.Contains(domain, ".") {
		return "", fmt.Errorf("%q: the domain must be a fully qualified domain name", q.Address)
	}
	q.Address = strings.ToLower(q.Address[:at]) + "@" + domain
	if q.Host == "" {
		q.Host = "mail." + domain
	}
	if q.Host, err = idna.Lookup.ToASCII(strings.ToLower(strings.TrimSuffix(q.Host, "."))); err != nil {
		return "", fmt.Errorf("host %q: %v", q.Host, err)
	}
	if q.DataDir == "" {
		q.DataDir = "/var/lib/gannet"
	}
	return domain, nil
}

// Config renders the configuration file: the documented example
// (config.Example) with production values, so that every key keeps its
// comment. It returns the text and the parsed, validated result. The same
// Quickstart always renders the same text, which is how a second run knows
// the file is its own.
func (q Quickstart) Config() (string, *config.Config, error) {
	domain, err := q.Normalize()
	if err != nil {
		return "", nil, err
	}
	abs, err := filepath.Abs(q.DataDir)
	if err != nil {
		return "", nil, err
	}
	set := map[string]string{
		".hostname":              fmt.Sprintf("%q", q.Host),
		".data_dir":              fmt.Sprintf("%q", abs),
		".domains":               fmt.Sprintf("[%q]", domain),
		".postmaster":            fmt.Sprintf("%q", q.Address),
		"tls.cert_file":          `""`,
		"tls.key_file":           `""`,
		"tls.acme":               "true",
		"tls.acme_email":         fmt.Sprintf("%q", q.Address),
		"tls.acme_hosts":         fmt.Sprintf("[%q]", q.Host),
		"tls.acme_directory_url": `""`,
	}
	var out strings.Builder
	section := ""
	sc := bufio.NewScanner(strings.NewReader(config.Example()))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "[") {
			section = strings.Trim(trimmed, "[]")
		}
		key, _, isKey := strings.Cut(trimmed, "=")
		key = strings.TrimSpace(key)
		switch {
		case !isKey || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "["):
		case section == "queue.transports":
			continue // the example's route is only an example
		case set[section+"."+key] != "":
			line = key + " = " + set[section+"."+key]
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	text := strings.Replace(out.String(), "# gannet.toml: the configuration",
		"# Written by `gannet quickstart "+q.Address+"`. Edit freely; quickstart then leaves it alone.\n#\n# gannet.toml: the configuration", 1)
	cfg, err := config.Parse([]byte(text), "quickstart")
	if err != nil {
		return "", nil, fmt.Errorf("quickstart config: %w", err)
	}
	if cfg.Hostname != q.Host || !cfg.TLS.ACME || len(cfg.Domains) != 1 || cfg.DataDir != abs {
		// The example changed in a way the substitution above misses.
		return "", nil, errors.New("quickstart config: the example configuration no longer has the expected keys")
	}
	return text, cfg, nil
}

// QuickstartResult says what Setup did.
type QuickstartResult struct {
	DomainAdded  bool
	AccountAdded bool
	Password     string // the new account's password; "" when it existed
	Records      []mailauth.Record
}

// Setup creates the domain (with its DKIM keys) and the account with a
// generated password, each only if missing: a second run changes nothing
// and never resets the password.
func (q Quickstart) Setup(ctx context.Context, cfg *config.Config, log *slog.Logger) (QuickstartResult, error) {
	var res QuickstartResult
	domain, err := q.Normalize()
	if err != nil {
		return res, err
	}
	c := *cfg
	c.Domains = nil // added below, to tell whether it was there
	st, err := OpenStore(ctx, &c, log)
	if err != nil {
		return res, err
	}
	defer st.Close()
	switch err := AddDomain(ctx, st, domain, time.Now()); {
	case err == nil:
		res.DomainAdded = true
	case errors.Is(err, store.ErrExists):
		if err := EnsureDKIMKeys(ctx, st, domain, time.Now()); err != nil {
			return res, err
		}
	default:
		return res, err
	}
	pw := StrongPassword()
	switch _, err := st.AddAccount(ctx, q.Address, pw); {
	case err == nil:
		res.AccountAdded, res.Password = true, pw
	case errors.Is(err, store.ErrExists):
	default:
		return res, fmt.Errorf("account %s: %w", q.Address, err)
	}
	res.Records, err = DNSRecords(ctx, st, domain, q.Host)
	return res, err
}

// Existing reports, without changing anything, what a data directory
// already holds for the quickstart: whether the domain and account exist
// and the domain's records. A directory that does not exist holds nothing.
func (q Quickstart) Existing(ctx context.Context, cfg *config.Config, log *slog.Logger) (QuickstartResult, error) {
	var res QuickstartResult
	domain, err := q.Normalize()
	if err != nil {
		return res, err
	}
	res.DomainAdded, res.AccountAdded = true, true
	if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
		res.Records, err = mailauth.DNSRecords(dnsConfig(domain, q.Host))
		return res, err
	}
	c := *cfg
	c.Domains = nil
	st, err := OpenStore(ctx, &c, log)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if ok, err := st.IsLocalDomain(ctx, domain); err != nil {
		return res, err
	} else if ok {
		res.DomainAdded = false
		res.Records, err = DNSRecords(ctx, st, domain, q.Host)
		if err != nil {
			return res, err
		}
	} else if res.Records, err = mailauth.DNSRecords(dnsConfig(domain, q.Host)); err != nil {
		return res, err
	}
	if _, err := st.Account(ctx, q.Address); err == nil {
		res.AccountAdded = false
	} else if !errors.Is(err, store.ErrNotFound) {
		return res, err
	}
	return res, nil
}

// StrongPassword is a random password of 24 characters from a 32-character
// alphabet without look-alikes (120 bits), in groups of four for reading
// it off a screen.
func StrongPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789" // no l, o, 0, 1
	b := make([]byte, 24)
	rand.Read(b)
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(alphabet[int(c)%len(alphabet)])
	}
	return s.String()
}

// ChownLike gives every file under dir the owner of dir itself, when we
// run as root and dir belongs to someone else: quickstart run with sudo on
// a data directory the Debian package made for the gannet user must not
// leave files that user cannot open.
func ChownLike(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(st.Uid), int(st.Gid))
	})
}
