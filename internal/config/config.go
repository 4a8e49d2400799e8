// Package config is Gannet's typed configuration: the gannet.toml file, its
// defaults, the `gannet dev` configuration, and validation.
//
// Invariants:
//   - Load starts from Default, so a key missing from the file keeps its default;
//     a key present in the file but unknown to Gannet is an error naming the key,
//     so that a typo never silently leaves a default in place.
//   - Every error names the offending key as it is spelled in the file
//     ("config: listeners.imap: invalid address ..."), and Validate reports every
//     problem at once (errors.Join), not just the first.
//   - Load returns a normalised, validated Config: hostname and domains are
//     lower-case IDNA A-labels without a trailing dot.
//   - Validate checks syntax and consistency only; it does no I/O (it does not
//     open certificate files or resolve names), so it is cheap and deterministic.
//   - A Config is plain data: it holds no state beyond its fields, and the package
//     has no mutable globals (the embedded example is read-only).
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration, as in gannet.toml. See Example for every
// key documented.
type Config struct {
	// Hostname is this server's fully qualified domain name, used in SMTP
	// greetings and EHLO (RFC 5321 4.1.1.1, 4.1.3) and Received fields.
	Hostname string `toml:"hostname"`
	// DataDir holds the database, message blobs and, in dev mode, certificates.
	DataDir string `toml:"data_dir"`
	// Store chooses the store backend (see StoreLocation): "" = SQLite in
	// DataDir, "postgres://user@host/db" = PostgreSQL.
	Store string `toml:"store"`
	// Blobs chooses where a PostgreSQL store keeps message bodies (see
	// BlobLocation): "" = in PostgreSQL, "s3://bucket/prefix" = in an
	// S3-compatible object store configured in [s3].
	Blobs string `toml:"blobs"`
	// NodeName names this node among several on one PostgreSQL store, in
	// logs, Received fields and metrics; "" = the host name's first label.
	// The same file can serve every node when it is left unset.
	NodeName string `toml:"node_name"`
	// Domains are mail domains ensured to exist at start-up.
	Domains []string `toml:"domains"`
	// Dev relaxes checks meant for production (hostname need not be a FQDN).
	Dev bool `toml:"dev"`
	// Postmaster receives mail for postmaster@ every local domain that has no
	// account or alias of that name (RFC 5321 4.5.1); "" = the oldest account.
	Postmaster string `toml:"postmaster"`
	// User is the account `gannet serve` runs as when started as root: it
	// binds its listeners, then switches to this user's uid, gid and
	// groups before it opens the store (internal/runas). "" = stay as
	// started, which as root needs AllowRoot.
	User string `toml:"user"`
	// AllowRoot lets the server keep running as root (no User). Off by
	// default: a mail server parses hostile input all day.
	AllowRoot bool `toml:"allow_root"`
	// LogFormat is "text" (key=value, one line per event) or "json" (one
	// JSON object per line).
	LogFormat string `toml:"log_format"`
	// LogLevel is the least severe level logged: "debug", "info", "warn"
	// or "error".
	LogLevel string `toml:"log_level"`

	Listeners Listeners `toml:"listeners"`
	TLS       TLS       `toml:"tls"`
	Limits    Limits    `toml:"limits"`
	Queue     Queue     `toml:"queue"`
	Webmail   Webmail   `toml:"webmail"`
	S3        S3        `toml:"s3"`
	Backup    Backup    `toml:"backup"`
}

// Backup schedules backups taken by the server itself (internal/backup,
// internal/app/backup.go), as `gannet backup DIR` takes them by hand.
type Backup struct {
	// Dir is the backup directory; "" = no scheduled backups.
	Dir string `toml:"dir"`
	// Interval is the time between backups, counted from the newest
	// snapshot in Dir (the first a minute after start when there is none).
	Interval Duration `toml:"interval"`
	// Keep is how many dated snapshots of the database to keep; message
	// files are shared between them.
	Keep int `toml:"keep"`
}

// S3 says how to reach the object store of `blobs = "s3://..."`.
type S3 struct {
	// Endpoint is the object store's host[:port]; "" = AWS S3
	// (s3.amazonaws.com).
	Endpoint string `toml:"endpoint"`
	// Region is the bucket's region; "" = discovered from the store.
	Region string `toml:"region"`
	// AccessKey is the access key id; with SecretKeyFile. Both unset: the
	// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY environment variables.
	AccessKey string `toml:"access_key"`
	// SecretKeyFile is a file holding the secret access key (the key is
	// never written in this file, which is often world-readable).
	SecretKeyFile string `toml:"secret_key_file"`
	// PlainHTTP talks HTTP instead of HTTPS: only for an object store on
	// loopback or a private network.
	PlainHTTP bool `toml:"plain_http"`
}

// Webmail configures the webmail listener (listeners.http).
type Webmail struct {
	// AllowPlainHTTP lets a production server (not dev) without a
	// certificate serve the webmail over plain HTTP on a non-loopback
	// address: for a TLS-terminating proxy in front. Without it such a
	// server refuses to start, since passwords and session cookies would
	// cross the network in the clear.
	AllowPlainHTTP bool `toml:"allow_plain_http"`
}

// Listeners are "host:port" listen addresses; an empty string disables the
// listener. A host of "" listens on every address.
type Listeners struct {
	SMTP        string `toml:"smtp"`        // MX, RFC 5321
	Submission  string `toml:"submission"`  // STARTTLS, RFC 6409
	Submissions string `toml:"submissions"` // implicit TLS, RFC 8314
	IMAP        string `toml:"imap"`        // STARTTLS, RFC 9051
	IMAPS       string `toml:"imaps"`       // implicit TLS, RFC 8314
	POP3        string `toml:"pop3"`        // STLS, RFC 1939 / RFC 2595
	POP3S       string `toml:"pop3s"`       // implicit TLS, RFC 8314
	HTTP        string `toml:"http"`        // webmail, autoconfig
	ManageSieve string `toml:"managesieve"` // Sieve scripts, STARTTLS, RFC 5804
	Admin       string `toml:"admin"`       // admin API and metrics; keep it private
	// TrustedProxies are networks ("10.0.0.0/8", or single addresses) of
	// load balancers whose connections, on every listener, begin with a
	// PROXY protocol header (v1 or v2) giving the client's address. From
	// any other peer such a header is bad protocol input.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// TLS names the certificate chain and key, PEM encoded (set both or
// neither), or asks for certificates from an ACME CA (RFC 8555) instead.
type TLS struct {
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// ACME gets and renews certificates automatically, answering the CA's
	// TLS-ALPN-01 challenge (RFC 8737) on the HTTPS listener (which the CA
	// reaches on port 443). Certificates are kept in DataDir/acme.
	ACME bool `toml:"acme"`
	// ACMEEmail is the contact address given to the CA (expiry and policy
	// notices); "" = none.
	ACMEEmail string `toml:"acme_email"`
	// ACMEHosts are the names to get certificates for; empty = Hostname. The
	// first is served to clients that ask for no name or another one.
	ACMEHosts []string `toml:"acme_hosts"`
	// ACMEDirectoryURL is the CA's directory; "" = Let's Encrypt's
	// production CA. Point it at a staging or private CA to test.
	ACMEDirectoryURL string `toml:"acme_directory_url"`
}

// Limits bound resource use per message, connection and client.
type Limits struct {
	MaxMessageBytes     int64 `toml:"max_message_bytes"`
	MaxRecipients       int   `toml:"max_recipients"`
	MaxConnectionsPerIP int   `toml:"max_connections_per_ip"` // 0 = unlimited
	MaxLineLength       int   `toml:"max_line_length"`
	// SMTPTimeout is the server's per-command timeout (RFC 5321 4.5.3.2.7
	// recommends 5 minutes).
	SMTPTimeout Duration `toml:"smtp_timeout"`
	// IMAPIdleTimeout is the autologout timer of an authenticated IMAP
	// connection (RFC 9051 5.4: at least 30 minutes).
	IMAPIdleTimeout Duration `toml:"imap_idle_timeout"`
	// IMAPPreauthTimeout is the autologout timer before authentication
	// (RFC 9051 5.4 allows it to be shorter).
	IMAPPreauthTimeout Duration `toml:"imap_preauth_timeout"`
	// POP3Timeout is the POP3 autologout timer (RFC 1939 3: at least 10 minutes).
	POP3Timeout Duration `toml:"pop3_timeout"`
	// POP3PreauthTimeout is the POP3 timer before authentication: a
	// connection that has not logged in within it is closed, as Dovecot's
	// login processes do after 3 minutes (RFC 1939 3's 10-minute minimum
	// is for the autologout of a session; one that never logged in holds a
	// connection slot for nothing).
	POP3PreauthTimeout Duration `toml:"pop3_preauth_timeout"`
	// LoginFailuresPerMinute is how many failed logins one client IP may make
	// per minute before being refused; 0 = unlimited.
	LoginFailuresPerMinute int `toml:"login_failures_per_minute"`
	// MaxConnections bounds the connections open at once over every
	// listener; 0 = sized from the file-descriptor limit (RLIMIT_NOFILE)
	// minus a reserve.
	MaxConnections int `toml:"max_connections"`
	// TLSHandshakeTimeout bounds a TLS handshake (implicit TLS, STARTTLS,
	// STLS).
	TLSHandshakeTimeout Duration `toml:"tls_handshake_timeout"`
}

// Queue configures outbound delivery.
type Queue struct {
	// RetrySchedule are the waits between delivery attempts; the last one
	// repeats until MaxAge.
	RetrySchedule []Duration `toml:"retry_schedule"`
	// MaxAge is when a message is bounced (RFC 5321 4.5.4.1: 4-5 days).
	MaxAge Duration `toml:"max_age"`
	// DelayWarning is when a delay DSN is sent to the sender (0 = never).
	DelayWarning Duration `toml:"delay_warning"`
	// Smarthost, "host:port", relays all outbound mail; "" delivers directly to
	// the recipient domains' MX hosts.
	Smarthost         string `toml:"smarthost"`
	SmarthostUsername string `toml:"smarthost_username"`
	SmarthostPassword string `toml:"smarthost_password"`
	// Transports route a recipient domain to a fixed "host:port", overriding
	// MX lookup and Smarthost.
	Transports map[string]string `toml:"transports"`
	// PollInterval is the longest the queue waits before looking at the
	// store again (work queued by `gannet queue retry` or by another node);
	// it also paces lease renewal, and a node's leases last 4 poll
	// intervals, so a dead node's recipients are taken over within about
	// that (internal/queue).
	PollInterval Duration `toml:"poll_interval"`
}

// Duration is a time.Duration read from a TOML string such as "90s", "5m" or
// "120h" (Go duration syntax).
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. \"90s\", \"5m\", \"2h\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.Duration.String()), nil
}

// Sizes used by the defaults.
const (
	kib = 1 << 10
	mib = 1 << 20
)

// Node is the node's name: NodeName, or the first label of the machine's
// host name when unset.
func (c *Config) Node() string {
	if c.NodeName != "" {
		return c.NodeName
	}
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(h, ".")
	if h == "" {
		return "gannet"
	}
	return h
}

// Default returns the production defaults. Hostname is os.Hostname(), which is
// often not fully qualified: set hostname in the file then.
func Default() *Config {
	host, _ := os.Hostname() // on error Validate reports the empty hostname
	return &Config{
		Hostname:  host,
		DataDir:   "/var/lib/gannet",
		LogFormat: "text",
		LogLevel:  "info",
		Listeners: Listeners{
			SMTP:        ":25",
			Submission:  ":587",
			Submissions: ":465",
			IMAP:        ":143",
			IMAPS:       ":993",
			POP3:        ":110",
			POP3S:       ":995",
			HTTP:        ":443",
			ManageSieve: ":4190",
			Admin:       "127.0.0.1:8081",
		},
		Limits: Limits{
			MaxMessageBytes:        50 * mib,
			MaxRecipients:          1000,
			MaxConnectionsPerIP:    50,
			MaxLineLength:          64 * kib,
			SMTPTimeout:            Duration{5 * time.Minute},
			IMAPIdleTimeout:        Duration{30 * time.Minute},
			IMAPPreauthTimeout:     Duration{time.Minute},
			POP3PreauthTimeout:     Duration{time.Minute},
			POP3Timeout:            Duration{10 * time.Minute},
			LoginFailuresPerMinute: 5,
			TLSHandshakeTimeout:    Duration{10 * time.Second},
		},
		Queue: Queue{
			RetrySchedule: []Duration{
				{time.Minute}, {5 * time.Minute}, {30 * time.Minute}, {2 * time.Hour}, {4 * time.Hour},
			},
			MaxAge:       Duration{120 * time.Hour},
			DelayWarning: Duration{4 * time.Hour},
			Transports:   map[string]string{},
			PollInterval: Duration{30 * time.Second},
		},
		Backup: Backup{Interval: Duration{24 * time.Hour}, Keep: 7},
	}
}

// DevConfig returns the configuration of `gannet dev`: everything on loopback
// with unprivileged ports, hostname "localhost", the domain gannet.test
// (RFC 2606 reserves .test), and a certificate under dataDir/tls.
func DevConfig(dataDir string) *Config {
	c := Default()
	c.Dev = true
	c.Hostname = "localhost"
	c.DataDir = dataDir
	c.Domains = []string{"gannet.test"}
	c.Listeners = Listeners{
		SMTP:        "127.0.0.1:2525",
		Submission:  "127.0.0.1:2587",
		Submissions: "127.0.0.1:2465",
		IMAP:        "127.0.0.1:2143",
		IMAPS:       "127.0.0.1:2993",
		POP3:        "127.0.0.1:2110",
		POP3S:       "127.0.0.1:2995",
		HTTP:        "127.0.0.1:8080",
		ManageSieve: "127.0.0.1:4190",
		Admin:       "127.0.0.1:8081",
	}
	c.TLS = TLS{
		CertFile: filepath.Join(dataDir, "tls", "cert.pem"),
		KeyFile:  filepath.Join(dataDir, "tls", "key.pem"),
	}
	return c
}

//go:embed example.toml
var example string

// Example returns an example gannet.toml that documents every key with its
// default. It Loads and Validates as is.
func Example() string { return example }

// Load reads the TOML file at path over Default, rejects unknown keys,
// normalises names, and validates the result.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse is Load for a file's contents; path names it in errors.
func Parse(data []byte, path string) (*Config, error) {
	c := Default()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if pe.LastKey != "" {
				return nil, fmt.Errorf("config: %s: line %d: %s: %s", path, pe.Position.Line, pe.LastKey, pe.Message)
			}
			return nil, fmt.Errorf("config: %s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if err := unknownKeys(path, md.Undecoded()); err != nil {
		return nil, err
	}
	if err := errors.Join(c.normalize(), c.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

// unknownKeys reports each undecoded key, but not the keys inside an unknown
// table (for "[foo] bar = 1" it names "foo", not also "foo.bar").
func unknownKeys(path string, keys []toml.Key) error {
	var errs []error
	var reported []toml.Key
	for _, k := range keys {
		if slices.ContainsFunc(reported, func(r toml.Key) bool { return hasPrefix(k, r) }) {
			continue
		}
		reported = append(reported, k)
		errs = append(errs, fmt.Errorf("config: %s: unknown key %q", path, k.String()))
	}
	return errors.Join(errs...)
}

func hasPrefix(k, prefix toml.Key) bool {
	return len(k) > len(prefix) && slices.Equal(k[:len(prefix)], prefix)
}

// normalize lower-cases hostname and domains and converts them to IDNA A-labels.
// A name that cannot be converted is left for Validate to report; the only error
// is two transports that normalise to the same domain.
func (c *Config) normalize() error {
	c.Hostname = normalizeDomain(c.Hostname)
	for i, d := range c.Domains {
		c.Domains[i] = normalizeDomain(d)
	}
	for i, h := range c.TLS.ACMEHosts {
		c.TLS.ACMEHosts[i] = normalizeDomain(h)
	}
	if len(c.TLS.ACMEHosts) == 0 {
		c.TLS.ACMEHosts = nil // "acme_hosts = []" is the default, not a different value
	}
	if len(c.Listeners.TrustedProxies) == 0 {
		c.Listeners.TrustedProxies = nil
	}
	if len(c.Queue.Transports) == 0 {
		return nil
	}
	var errs []error
	m := make(map[string]string, len(c.Queue.Transports))
	for d, addr := range c.Queue.Transports {
		n := normalizeDomain(d)
		if _, dup := m[n]; dup {
			errs = append(errs, fmt.Errorf("config: queue.transports: two keys name the domain %q", n))
			continue
		}
		m[n] = addr
	}
	c.Queue.Transports = m
	return errors.Join(errs...)
}

// quoteKey spells a map key as TOML would need it in a dotted key.
func quoteKey(k string) string {
	return toml.Key{k}.String()
}

// list returns the listeners with their keys, in file order.
func (l *Listeners) list() []struct{ key, addr string } {
	return []struct{ key, addr string }{
		{"listeners.smtp", l.SMTP},
		{"listeners.submission", l.Submission},
		{"listeners.submissions", l.Submissions},
		{"listeners.imap", l.IMAP},
		{"listeners.imaps", l.IMAPS},
		{"listeners.pop3", l.POP3},
		{"listeners.pop3s", l.POP3S},
		{"listeners.http", l.HTTP},
		{"listeners.managesieve", l.ManageSieve},
		{"listeners.admin", l.Admin},
	}
}

// ParsePrefix reads a trusted proxy network: a CIDR prefix, or a single
// address (a /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Proxies returns the trusted proxy networks; Validate has checked them.
func (l *Listeners) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range l.TrustedProxies {
		if p, err := ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// trimDot removes one trailing dot of an absolute domain name.
func trimDot(s string) string { return strings.TrimSuffix(s, ".") }
