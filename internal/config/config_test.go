package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// write puts content in a gannet.toml under a fresh temporary directory.
func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gannet.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantErr checks that err mentions every fragment.
func wantErr(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one mentioning %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
}

const minimal = "hostname = \"mail.example.com\"\n"

func TestLoadGood(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, `
hostname = "Mail.Example.COM."
data_dir = "/srv/gannet"
domains = ["Example.com", "bücher.example"]

[listeners]
smtp = "[::1]:2525"
pop3 = ""
pop3s = ""
imap = "192.0.2.1:143"

[tls]
cert_file = "/etc/cert.pem"
key_file = "/etc/key.pem"

[limits]
max_message_bytes = 1048576
smtp_timeout = "90s"
login_failures_per_minute = 0

[queue]
retry_schedule = ["10m", "1h"]
delay_warning = "0s"
smarthost = "relay.example.net:587"
smarthost_username = "u"
smarthost_password = "p"

[queue.transports]
"Example.ORG" = "10.0.0.1:25"
"internal.example" = "[2001:db8::1]:2525"
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hostname != "mail.example.com" {
		t.Errorf("Hostname = %q", c.Hostname)
	}
	if want := []string{"example.com", "xn--bcher-kva.example"}; !slices.Equal(c.Domains, want) {
		t.Errorf("Domains = %q, want %q", c.Domains, want)
	}
	if c.DataDir != "/srv/gannet" || c.Listeners.SMTP != "[::1]:2525" || c.Listeners.POP3 != "" ||
		c.Listeners.IMAP != "192.0.2.1:143" || c.Listeners.Submission != ":587" {
		t.Errorf("Listeners = %+v", c.Listeners)
	}
	if c.Limits.MaxMessageBytes != 1<<20 || c.Limits.SMTPTimeout.Duration != 90*time.Second ||
		c.Limits.LoginFailuresPerMinute != 0 || c.Limits.MaxRecipients != 1000 {
		t.Errorf("Limits = %+v", c.Limits)
	}
	if want := []Duration{{10 * time.Minute}, {time.Hour}}; !slices.Equal(c.Queue.RetrySchedule, want) {
		t.Errorf("RetrySchedule = %v", c.Queue.RetrySchedule)
	}
	if want := map[string]string{"example.org": "10.0.0.1:25", "internal.example": "[2001:db8::1]:2525"}; !reflect.DeepEqual(c.Queue.Transports, want) {
		t.Errorf("Transports = %v, want %v", c.Queue.Transports, want)
	}
	if c.Queue.DelayWarning.Duration != 0 || c.Queue.MaxAge.Duration != 120*time.Hour || c.Queue.SmarthostPassword != "p" {
		t.Errorf("Queue = %+v", c.Queue)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Hostname = "mail.example.com"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(minimal) = %+v\nwant Default() %+v", c, want)
	}
	d := Default()
	if h, err := os.Hostname(); err == nil && d.Hostname != h {
		t.Errorf("Default().Hostname = %q, want os.Hostname() %q", d.Hostname, h)
	}
	if d.DataDir != "/var/lib/gannet" || d.Dev || len(d.Domains) != 0 {
		t.Errorf("Default() = %+v", d)
	}
	wantL := Listeners{":25", ":587", ":465", ":143", ":993", ":110", ":995", ":443", ":4190", "127.0.0.1:8081", nil}
	if !reflect.DeepEqual(d.Listeners, wantL) {
		t.Errorf("Default().Listeners = %+v", d.Listeners)
	}
	wantLim := Limits{50 << 20, 1000, 50, 64 << 10, Duration{5 * time.Minute}, Duration{30 * time.Minute},
		Duration{time.Minute}, Duration{10 * time.Minute}, Duration{time.Minute}, 5, 0, Duration{10 * time.Second}}
	if d.Limits != wantLim {
		t.Errorf("Default().Limits = %+v", d.Limits)
	}
	if got := fmtDurations(d.Queue.RetrySchedule); got != "1m0s 5m0s 30m0s 2h0m0s 4h0m0s" {
		t.Errorf("Default().Queue.RetrySchedule = %s", got)
	}
	if d.Queue.MaxAge.Duration != 120*time.Hour || d.Queue.DelayWarning.Duration != 4*time.Hour || d.Queue.Smarthost != "" {
		t.Errorf("Default().Queue = %+v", d.Queue)
	}
	d.Hostname = "mail.example.com"
	if err := d.Validate(); err != nil {
		t.Errorf("Default() with a FQDN does not validate: %v", err)
	}
}

func fmtDurations(ds []Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, " ")
}

func TestDevConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := DevConfig(dir)
	if err := c.Validate(); err != nil {
		t.Fatalf("DevConfig does not validate: %v", err)
	}
	if !c.Dev || c.Hostname != "localhost" || c.DataDir != dir || !slices.Equal(c.Domains, []string{"gannet.test"}) {
		t.Errorf("DevConfig = %+v", c)
	}
	want := Listeners{"127.0.0.1:2525", "127.0.0.1:2587", "127.0.0.1:2465", "127.0.0.1:2143", "127.0.0.1:2993",
		"127.0.0.1:2110", "127.0.0.1:2995", "127.0.0.1:8080", "127.0.0.1:4190", "127.0.0.1:8081", nil}
	if !reflect.DeepEqual(c.Listeners, want) {
		t.Errorf("DevConfig listeners = %+v", c.Listeners)
	}
	if c.TLS.CertFile != filepath.Join(dir, "tls", "cert.pem") || c.TLS.KeyFile != filepath.Join(dir, "tls", "key.pem") {
		t.Errorf("DevConfig TLS = %+v", c.TLS)
	}
	// The same hostname is refused outside dev mode.
	c.Dev = false
	wantErr(t, c.Validate(), "config: hostname:", "fully qualified")
}

func TestExample(t *testing.T) {
	t.Parallel()
	path := write(t, Example())
	c, err := Load(path)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	// Every key of Config appears in the example.
	var raw Config
	md, err := toml.DecodeFile(path, &raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range tomlKeys(reflect.TypeFor[Config](), nil) {
		if !md.IsDefined(key...) {
			t.Errorf("example.toml does not document %q", strings.Join(key, "."))
		}
	}
	// The example shows the defaults, except the values marked as examples.
	want := Default()
	want.Hostname = "mail.example.com"
	want.Domains = []string{"example.com"}
	want.TLS = TLS{CertFile: "/etc/gannet/tls/fullchain.pem", KeyFile: "/etc/gannet/tls/privkey.pem"}
	want.Queue.Transports = map[string]string{"example.net": "mx.example.net:25"}
	want.Postmaster = "admin@example.com"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("example values differ from defaults:\n got %+v\nwant %+v", c, want)
	}
}

// tomlKeys lists the leaf keys of a struct type by their toml tags; maps count
// as one key (their table).
func tomlKeys(typ reflect.Type, prefix []string) [][]string {
	var keys [][]string
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		key := append(slices.Clone(prefix), name)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[Duration]() {
			keys = append(keys, tomlKeys(f.Type, key)...)
			continue
		}
		keys = append(keys, key)
	}
	return keys
}

func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		content string
		key     string
	}{
		{minimal + "hostnme = \"x\"\n", `unknown key "hostnme"`},
		{minimal + "[listeners]\nimapx = \":143\"\n", `unknown key "listeners.imapx"`},
		{minimal + "[queue]\nretry = [\"1m\"]\n", `unknown key "queue.retry"`},
		{minimal + "[limits.smtp]\ntimeout = \"1m\"\n", `unknown key "limits.smtp"`},
		{minimal + "[acme]\nemail = \"a@b\"\n", `unknown key "acme"`},
	} {
		_, err := Load(write(t, tc.content))
		wantErr(t, err, tc.key)
		// An unknown table is reported once, not once per key inside it.
		if err != nil && strings.Count(err.Error(), "unknown key") != 1 {
			t.Errorf("error %q reports more than one key", err)
		}
	}
	_, err := Load(write(t, minimal+"a = 1\n[tls]\nb = 2\n"))
	wantErr(t, err, `unknown key "a"`, `unknown key "tls.b"`)
}

func TestBadValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		content   string
		fragments []string
	}{
		// Decoding errors name the key and the line.
		{"[limits]\nsmtp_timeout = \"5 minutes\"\n", []string{"line 3", "limits.smtp_timeout", `invalid duration "5 minutes"`}},
		{"[limits]\nsmtp_timeout = 5\n", []string{"limits.smtp_timeout", "invalid duration"}},
		{"[queue]\nretry_schedule = [\"1m\", \"soon\"]\n", []string{"queue.retry_schedule", `invalid duration "soon"`}},
		{"[limits]\nmax_recipients = \"many\"\n", []string{"limits.max_recipients"}},
		{"[listeners\n", []string{"gannet.toml: line", "end table name"}},
		// Validation errors name the key.
		{"node_name = \"node 1\"\n", []string{"config: node_name:", `"node 1"`}},
		{"[listeners]\nimap = \"x\"\n", []string{`config: listeners.imap: invalid address "x"`}},
		{"[listeners]\nsmtp = \":99999\"\n", []string{"config: listeners.smtp:", "port"}},
		{"[listeners]\npop3 = \"bad host:110\"\n", []string{"config: listeners.pop3:", "invalid host"}},
		{"[listeners]\nimaps = \"[::1:993\"\n", []string{"config: listeners.imaps:"}},
		{"[listeners]\nhttp = \":143\"\n", []string{"config: listeners.http:", "conflicts with listeners.imap"}},
		{"[listeners]\nadmin = \":443\"\n", []string{"config: listeners.admin:", "conflicts with listeners.http"}},
		{"[tls]\ncert_file = \"/c.pem\"\n", []string{"config: tls.key_file: must be set when tls.cert_file is"}},
		{"[tls]\nkey_file = \"/k.pem\"\n", []string{"config: tls.cert_file: must be set when tls.key_file is"}},
		{"[limits]\nimap_idle_timeout = \"-1m\"\n", []string{"config: limits.imap_idle_timeout: must be positive"}},
		{"[limits]\nmax_recipients = 10\n", []string{"config: limits.max_recipients:", "RFC 5321"}},
		{"[limits]\nmax_line_length = 512\n", []string{"config: limits.max_line_length:"}},
		{"[limits]\nmax_message_bytes = 0\n", []string{"config: limits.max_message_bytes:"}},
		{"[limits]\nmax_connections_per_ip = -1\n", []string{"config: limits.max_connections_per_ip:"}},
		{"[limits]\nmax_connections = -5\n", []string{"config: limits.max_connections:"}},
		{"[limits]\ntls_handshake_timeout = \"0s\"\n", []string{"config: limits.tls_handshake_timeout: must be positive"}},
		{"[listeners]\ntrusted_proxies = [\"10.0.0.0/8\", \"proxy.example\"]\n", []string{`config: listeners.trusted_proxies[1]: "proxy.example"`}},
		{"[listeners]\ntrusted_proxies = [\"10.0.0.0/33\"]\n", []string{"config: listeners.trusted_proxies[0]:"}},
		{"[webmail]\nallow_plain_http = \"yes\"\n", []string{"webmail.allow_plain_http"}},
		{"[queue]\nretry_schedule = []\n", []string{"config: queue.retry_schedule:"}},
		{"[queue]\nretry_schedule = [\"1m\", \"0s\"]\n", []string{"config: queue.retry_schedule[1]:"}},
		{"[queue]\ndelay_warning = \"200h\"\n", []string{"config: queue.delay_warning:", "queue.max_age"}},
		{"[queue]\nsmarthost = \"relay.example.net\"\n", []string{`config: queue.smarthost: invalid address "relay.example.net"`}},
		{"[queue]\nsmarthost = \":25\"\n", []string{"config: queue.smarthost:", "missing host"}},
		{"[queue]\nsmarthost_username = \"u\"\n", []string{"config: queue.smarthost_username:"}},
		{"[queue]\nsmarthost = \"r.example:25\"\nsmarthost_password = \"p\"\n", []string{"config: queue.smarthost_password:"}},
		{"[queue.transports]\n\"example.org\" = \"mx.example.org\"\n", []string{`config: queue.transports."example.org": invalid address`}},
		{"[queue.transports]\n\"exa mple.org\" = \"mx.example.org:25\"\n", []string{`config: queue.transports."exa mple.org":`}},
		{"domains = [\"ok.example\", \"bad_domain.example\"]\n", []string{"config: domains[1]:"}},
		{"domains = [\"a.example\", \"A.example\"]\n", []string{"config: domains[1]:", "twice"}},
		{"domains = [\"ü--x.example\"]\n", []string{"config: domains[0]:", "internationalised"}},
		{"[queue.transports]\n\"a.example\" = \"h:25\"\n\"A.example.\" = \"h:25\"\n", []string{"config: queue.transports:", `"a.example"`}},
	} {
		content := tc.content
		if !strings.Contains(content, "hostname") {
			content = minimal + content
		}
		_, err := Load(write(t, content))
		wantErr(t, err, tc.fragments...)
	}
	for _, host := range []string{"mail", "-bad-.example", "a..example", "192.0.2.1"} {
		_, err := Load(write(t, "hostname = \""+host+"\"\n"))
		wantErr(t, err, "config: hostname:")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil {
		t.Error("Load(missing file) succeeded")
	}
}

// TestValidateReportsAll: one Validate call names every bad key.
func TestValidateReportsAll(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Hostname = ""
	c.Listeners.IMAP = "nope"
	c.TLS.CertFile = "/c.pem"
	c.Limits.POP3Timeout = Duration{}
	c.Queue.MaxAge = Duration{}
	wantErr(t, c.Validate(), "config: hostname:", "config: listeners.imap:", "config: tls.key_file:",
		"config: limits.pop3_timeout:", "config: queue.max_age:")
}

func TestDurationText(t *testing.T) {
	t.Parallel()
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.Duration != 90*time.Minute {
		t.Errorf("UnmarshalText(1h30m) = %v, %v", d, err)
	}
	if b, err := d.MarshalText(); err != nil || string(b) != "1h30m0s" {
		t.Errorf("MarshalText = %q, %v", b, err)
	}
	if err := d.UnmarshalText([]byte("1 day")); err == nil {
		t.Error("UnmarshalText(1 day) succeeded")
	}
}

func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, minimal+"[listeners]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::/48\", \"::ffff:198.51.100.0/120\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range c.Listeners.Proxies() {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.0/8", "192.0.2.7/32", "2001:db8::/48", "198.51.100.0/24"}
	if !slices.Equal(got, want) {
		t.Errorf("Proxies() = %v, want %v", got, want)
	}
}
