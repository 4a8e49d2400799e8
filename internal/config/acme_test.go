package config

import (
	"slices"
	"testing"
)

func TestACMEGood(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, minimal+`
[tls]
acme = true
acme_email = "postmaster@example.com"
acme_hosts = ["Mail.Example.com.", "bücher.example"]
acme_directory_url = "https://acme-staging-v02.api.letsencrypt.org/directory"
`))
	if err != nil {
		t.Fatal(err)
	}
	if !c.TLS.ACME || c.TLS.ACMEEmail != "postmaster@example.com" ||
		c.TLS.ACMEDirectoryURL != "https://acme-staging-v02.api.letsencrypt.org/directory" {
		t.Errorf("TLS = %+v", c.TLS)
	}
	// Host names are normalised like domains: lower case, A-labels, no dot.
	if want := []string{"mail.example.com", "xn--bcher-kva.example"}; !slices.Equal(c.TLS.ACMEHosts, want) {
		t.Errorf("ACMEHosts = %q, want %q", c.TLS.ACMEHosts, want)
	}
	// The minimal ACME configuration: the hostname is the one name.
	if _, err := Load(write(t, minimal+"[tls]\nacme = true\n")); err != nil {
		t.Errorf("acme = true alone: %v", err)
	}
}

func TestACMEBad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		content   string
		fragments []string
	}{
		{"[tls]\nacme_email = \"a@example.com\"\n", []string{"config: tls.acme_email: set without tls.acme = true"}},
		{"[tls]\nacme_hosts = [\"mail.example.com\"]\n", []string{"config: tls.acme_hosts: set without tls.acme"}},
		{"[tls]\nacme_directory_url = \"https://ca.example/dir\"\n", []string{"config: tls.acme_directory_url: set without"}},
		{"[tls]\nacme = true\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n", []string{"config: tls.acme: cannot be combined with tls.cert_file"}},
		{"[listeners]\nhttp = \"\"\n[tls]\nacme = true\n", []string{"config: tls.acme: needs listeners.http"}},
		{"[tls]\nacme = true\nacme_email = \"postmaster\"\n", []string{`config: tls.acme_email: "postmaster" is not an email address`}},
		{"[tls]\nacme = true\nacme_email = \"a@bad_domain\"\n", []string{"config: tls.acme_email:"}},
		{"[tls]\nacme = true\nacme_hosts = [\"ok.example.com\", \"*.example.com\"]\n", []string{"config: tls.acme_hosts[1]:"}},
		{"[tls]\nacme = true\nacme_hosts = [\"192.0.2.1\"]\n", []string{"config: tls.acme_hosts[0]:", "IP address"}},
		{"[tls]\nacme = true\nacme_hosts = [\"mail\"]\n", []string{"config: tls.acme_hosts[0]:", "fully qualified"}},
		{"[tls]\nacme = true\nacme_directory_url = \"ftp://ca.example/\"\n", []string{"config: tls.acme_directory_url:"}},
		{"[tls]\nacme = true\nacme_directory_url = \"https://\"\n", []string{"config: tls.acme_directory_url:"}},
	} {
		_, err := Load(write(t, minimal+tc.content))
		wantErr(t, err, tc.fragments...)
	}
}
