package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Minimums required by the protocols.
const (
	// RFC 5321 4.5.3.1.8: a server MUST accept at least 100 recipients.
	minRecipients = 100
	// RFC 7162 section 4: servers SHOULD accept command lines of at least 8192
	// octets (RFC 5321 4.5.3.1.6 needs only 1000 for SMTP).
	minLineLength = 8192
)

// problems collects validation errors, each naming its key.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, fmt.Errorf("config: %s: %s", key, fmt.Sprintf(format, args...)))
}

// Validate reports every inconsistency in c, each error naming its key. It does
// no I/O. A Config from Load has already been validated.
func (c *Config) Validate() error {
	var p problems
	c.validateTop(&p)
	c.validateListeners(&p)
	c.validateTLS(&p)
	c.validateLimits(&p)
	c.validateQueue(&p)
	c.validateBackup(&p)
	return errors.Join(p...)
}

func (c *Config) validateTop(p *problems) {
	switch err := checkDomain(c.Hostname); {
	case c.Hostname == "":
		p.add("hostname", "must be set (this server's fully qualified domain name)")
	case err != nil:
		p.add("hostname", "%q: %v", c.Hostname, err)
	case !c.Dev && !strings.Contains(trimDot(c.Hostname), "."):
		// RFC 5321 4.1.1.1: EHLO carries the fully qualified domain name.
		p.add("hostname", "%q is not a fully qualified domain name", c.Hostname)
	}
	if c.DataDir == "" {
		p.add("data_dir", "must be set")
	}
	if _, err := c.StoreLocation(); err != nil {
		*p = append(*p, err)
	}
	if _, err := c.BlobLocation(); err != nil {
		*p = append(*p, err)
	}
	if (c.S3.AccessKey == "") != (c.S3.SecretKeyFile == "") {
		p.add("s3.access_key", "set both access_key and secret_key_file, or neither (then the AWS_ environment variables are used)")
	}
	if c.S3.Endpoint != "" && strings.Contains(c.S3.Endpoint, "/") {
		p.add("s3.endpoint", "%q: want host[:port], no scheme or path (plain_http chooses http)", c.S3.Endpoint)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		p.add("log_format", "%q: want \"text\" or \"json\"", c.LogFormat)
	}
	if _, err := ParseLogLevel(c.LogLevel); err != nil {
		p.add("log_level", "%v", err)
	}
	if u := c.User; u != "" && !validUserName(u) {
		p.add("user", "%q is not a user name (letters, digits, '.', '-', '_', not starting with '-')", u)
	}
	if n := c.NodeName; n != "" && !validNodeName(n) {
		p.add("node_name", "%q: use 1 to 63 letters, digits, '.', '-' or '_'", n)
	}
	seen := make(map[string]bool, len(c.Domains))
	for i, d := range c.Domains {
		key := fmt.Sprintf("domains[%d]", i)
		if err := checkDomain(d); err != nil {
			p.add(key, "%q: %v", d, err)
			continue
		}
		if n := strings.ToLower(trimDot(d)); seen[n] {
			p.add(key, "%q listed twice", d)
		} else {
			seen[n] = true
		}
	}
}

func (c *Config) validateListeners(p *problems) {
	type bound struct{ key, host string }
	byPort := make(map[string][]bound)
	for _, l := range c.Listeners.list() {
		if l.addr == "" {
			continue // disabled
		}
		host, port, err := splitAddr(l.addr, false)
		if err != nil {
			p.add(l.key, "invalid address %q: %v", l.addr, err)
			continue
		}
		if port == "0" {
			continue // ephemeral: never conflicts
		}
		for _, b := range byPort[port] {
			if host == b.host || wildcard(host) || wildcard(b.host) {
				p.add(l.key, "address %q conflicts with %s", l.addr, b.key)
				break
			}
		}
		byPort[port] = append(byPort[port], bound{l.key, host})
	}
	for i, s := range c.Listeners.TrustedProxies {
		if _, err := ParsePrefix(s); err != nil {
			p.add(fmt.Sprintf("listeners.trusted_proxies[%d]", i), "%q is not an address or network: %v", s, err)
		}
	}
}

func wildcard(host string) bool {
	return host == "" || host == "0.0.0.0" || host == "::"
}

func (c *Config) validateTLS(p *problems) {
	t := &c.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		p.add("tls.key_file", "must be set when tls.cert_file is")
	case t.CertFile == "" && t.KeyFile != "":
		p.add("tls.cert_file", "must be set when tls.key_file is")
	}
	if !t.ACME {
		for _, k := range []struct {
			key string
			set bool
		}{
			{"tls.acme_email", t.ACMEEmail != ""},
			{"tls.acme_hosts", len(t.ACMEHosts) > 0},
			{"tls.acme_directory_url", t.ACMEDirectoryURL != ""},
		} {
			if k.set {
				p.add(k.key, "set without tls.acme = true")
			}
		}
		return
	}
	if t.CertFile != "" {
		p.add("tls.acme", "cannot be combined with tls.cert_file: choose certificate files or ACME")
	}
	if c.Listeners.HTTP == "" {
		// RFC 8737 3: the CA validates over TLS on port 443, which is ours.
		p.add("tls.acme", "needs listeners.http (the CA's TLS-ALPN-01 challenge arrives on port 443)")
	}
	if t.ACMEEmail != "" {
		if at := strings.LastIndexByte(t.ACMEEmail, '@'); at <= 0 || checkDomain(t.ACMEEmail[at+1:]) != nil {
			p.add("tls.acme_email", "%q is not an email address", t.ACMEEmail)
		}
	}
	for i, h := range t.ACMEHosts {
		key := fmt.Sprintf("tls.acme_hosts[%d]", i)
		if err := checkDomain(h); err != nil {
			// Also refuses IP addresses and wildcards, which TLS-ALPN-01
			// cannot validate (RFC 8737 3, 6).
			p.add(key, "%q: %v", h, err)
		} else if !strings.Contains(trimDot(h), ".") {
			p.add(key, "%q is not a fully qualified domain name", h)
		}
	}
	if u := t.ACMEDirectoryURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			p.add("tls.acme_directory_url", "%q is not an http(s) URL", u)
		}
	}
}

func (c *Config) validateLimits(p *problems) {
	l := &c.Limits
	if l.MaxMessageBytes <= 0 {
		p.add("limits.max_message_bytes", "must be positive, got %d", l.MaxMessageBytes)
	}
	if l.MaxRecipients < minRecipients {
		p.add("limits.max_recipients", "must be at least %d (RFC 5321 4.5.3.1.8), got %d", minRecipients, l.MaxRecipients)
	}
	if l.MaxConnectionsPerIP < 0 {
		p.add("limits.max_connections_per_ip", "must be 0 (unlimited) or positive, got %d", l.MaxConnectionsPerIP)
	}
	if l.MaxConnections < 0 {
		p.add("limits.max_connections", "must be 0 (sized from the file-descriptor limit) or positive, got %d", l.MaxConnections)
	}
	if l.MaxLineLength < minLineLength {
		p.add("limits.max_line_length", "must be at least %d (RFC 7162 section 4), got %d", minLineLength, l.MaxLineLength)
	}
	for _, d := range []struct {
		key string
		d   Duration
	}{
		{"limits.smtp_timeout", l.SMTPTimeout},
		{"limits.imap_idle_timeout", l.IMAPIdleTimeout},
		{"limits.imap_preauth_timeout", l.IMAPPreauthTimeout},
		{"limits.pop3_timeout", l.POP3Timeout},
		{"limits.pop3_preauth_timeout", l.POP3PreauthTimeout},
		{"limits.tls_handshake_timeout", l.TLSHandshakeTimeout},
	} {
		if d.d.Duration <= 0 {
			p.add(d.key, "must be positive, got %q", d.d.Duration)
		}
	}
	if l.LoginFailuresPerMinute < 0 {
		p.add("limits.login_failures_per_minute", "must be 0 (unlimited) or positive, got %d", l.LoginFailuresPerMinute)
	}
}

func (c *Config) validateQueue(p *problems) {
	q := &c.Queue
	if len(q.RetrySchedule) == 0 {
		p.add("queue.retry_schedule", "must list at least one duration")
	}
	for i, d := range q.RetrySchedule {
		if d.Duration <= 0 {
			p.add(fmt.Sprintf("queue.retry_schedule[%d]", i), "must be positive, got %q", d.Duration)
		}
	}
	if q.MaxAge.Duration <= 0 {
		p.add("queue.max_age", "must be positive, got %q", q.MaxAge.Duration)
	}
	switch {
	case q.DelayWarning.Duration < 0:
		p.add("queue.delay_warning", "must be 0 (never) or positive, got %q", q.DelayWarning.Duration)
	case q.MaxAge.Duration > 0 && q.DelayWarning.Duration >= q.MaxAge.Duration:
		p.add("queue.delay_warning", "%q must be less than queue.max_age %q", q.DelayWarning.Duration, q.MaxAge.Duration)
	}
	if q.PollInterval.Duration < time.Second || q.PollInterval.Duration > 10*time.Minute {
		// Under a second would only load the store; over ten minutes a dead
		// node's leases (4 intervals) would hold its mail back too long.
		p.add("queue.poll_interval", "must be between 1s and 10m, got %q", q.PollInterval.Duration)
	}
	if q.Smarthost != "" {
		if _, _, err := splitAddr(q.Smarthost, true); err != nil {
			p.add("queue.smarthost", "invalid address %q: %v", q.Smarthost, err)
		}
	} else if q.SmarthostUsername != "" {
		p.add("queue.smarthost_username", "set without queue.smarthost")
	}
	if q.SmarthostPassword != "" && q.SmarthostUsername == "" {
		p.add("queue.smarthost_password", "set without queue.smarthost_username")
	}
	domains := make([]string, 0, len(q.Transports))
	for d := range q.Transports {
		domains = append(domains, d)
	}
	slices.Sort(domains) // deterministic error order
	for _, d := range domains {
		key := "queue.transports." + quoteKey(d)
		if err := checkDomain(d); err != nil {
			p.add(key, "invalid domain %q: %v", d, err)
		}
		if _, _, err := splitAddr(q.Transports[d], true); err != nil {
			p.add(key, "invalid address %q: %v", q.Transports[d], err)
		}
	}
}

// splitAddr checks "host:port". The host may be empty (listen on every address)
// unless needHost, an IP address (IPv6 in brackets) or a domain name; the port
// must be numeric, and non-zero when needHost (a destination).
func splitAddr(addr string, needHost bool) (host, port string, err error) {
	host, port, err = net.SplitHostPort(addr)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return "", "", errors.New(ae.Err)
		}
		return "", "", err
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (port != "0" && port[0] == '0') {
		return "", "", fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	if needHost && n == 0 {
		return "", "", errors.New("port must not be 0")
	}
	switch {
	case host == "":
		if needHost {
			return "", "", errors.New("missing host")
		}
	case strings.Contains(host, ":"):
		// IPv6, possibly with a zone (fe80::1%eth0).
		if _, err := netip.ParseAddr(host); err != nil {
			return "", "", fmt.Errorf("invalid IPv6 address %q", host)
		}
	default:
		if _, err := netip.ParseAddr(host); err == nil {
			break
		}
		if err := checkDomain(host); err != nil {
			return "", "", fmt.Errorf("invalid host %q: %v", host, err)
		}
	}
	return host, port, nil
}

// checkDomain checks the syntax of an ASCII domain name (RFC 1035 2.3.1, with
// RFC 1123 2.1's leading digits): letters, digits and hyphens, labels of 1-63
// octets not starting or ending with a hyphen, at most 253 octets in all. One
// trailing dot is allowed. Underscores are refused: they are not valid in host
// names.
func checkDomain(d string) error {
	d = trimDot(d)
	if d == "" {
		return errors.New("empty domain")
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			// Load converts valid internationalised names to A-labels, so
			// this one is invalid; let IDNA say why (RFC 5891).
			if _, err := idna.Lookup.ToASCII(d); err != nil {
				return fmt.Errorf("invalid internationalised domain name: %v", err)
			}
			return errors.New("internationalised name not in A-label form")
		}
	}
	if len(d) > 253 {
		return errors.New("longer than 253 octets")
	}
	for label := range strings.SplitSeq(d, ".") {
		if label == "" || len(label) > 63 {
			return fmt.Errorf("label %q must be 1 to 63 octets", label)
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-') {
				return fmt.Errorf("invalid character %q in label %q", b, label)
			}
		}
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return errors.New("an IP address is not a domain name")
	}
	return nil
}

// normalizeDomain returns d lower-case, in IDNA A-label form (RFC 5891), without
// a trailing dot. A name that is not a valid IDNA name is returned trimmed but
// otherwise unchanged, for checkDomain to reject.
func normalizeDomain(d string) string {
	d = trimDot(strings.TrimSpace(d))
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return a
	}
	return d
}

// validNodeName: a node name goes into log lines, a Received comment and a
// metrics label, so it is kept to characters that need no quoting anywhere.
func validNodeName(n string) bool {
	if len(n) > 63 {
		return false
	}
	for _, r := range n {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func (c *Config) validateBackup(p *problems) {
	b := c.Backup
	if b.Dir == "" {
		return
	}
	if loc, err := c.StoreLocation(); err == nil && loc.Backend != StoreSQLite {
		p.add("backup.dir", "scheduled backups are for SQLite stores; back PostgreSQL up with pg_dump or base backups (README, \"Backups\")")
	}
	if b.Interval.Duration < time.Minute {
		p.add("backup.interval", "%v: want at least 1m", b.Interval.Duration)
	}
	if b.Keep < 1 {
		p.add("backup.keep", "%d: keep at least 1 snapshot", b.Keep)
	}
	if abs, err := filepath.Abs(b.Dir); err == nil {
		if data, err := filepath.Abs(c.DataDir); err == nil && (abs == data || strings.HasPrefix(abs, data+string(filepath.Separator))) {
			p.add("backup.dir", "%q is inside data_dir: put backups in a directory of their own, best on another disk", b.Dir)
		}
	}
}
