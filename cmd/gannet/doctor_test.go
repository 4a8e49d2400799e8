package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/dnsx/dnstest"
	"gannet/internal/mailauth"
)

// doctorSetup is a running Gannet for doctor.test (host mail.doctor.test)
// on loopback with a self-signed certificate for every name, and a config
// file naming its listeners' real ports, for `gannet doctor --config`.
type doctorSetup struct {
	cfgFile, caFile string
	records         []mailauth.Record
	ports           map[string]string // listener name → port
}

const (
	docDomain = "doctor.test"
	docHost   = "mail.doctor.test"
)

func startDoctorServer(t *testing.T) *doctorSetup {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	cfg := config.Default()
	cfg.Hostname = docHost
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Domains = []string{docDomain}
	l := "127.0.0.1:0"
	cfg.Listeners = config.Listeners{SMTP: l, Submission: l, Submissions: l, IMAP: l, IMAPS: l, POP3: l, POP3S: l, HTTP: l}
	cfg.TLS.CertFile, cfg.TLS.KeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := app.EnsureSelfSigned(cfg.TLS.CertFile, cfg.TLS.KeyFile,
		[]string{docHost, "mta-sts." + docDomain, "autoconfig." + docDomain, "autodiscover." + docDomain}, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.EnsureDKIMKeys(ctx, a.Store, docDomain, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	recs, err := app.DNSRecords(ctx, a.Store, docDomain, docHost)
	if err != nil {
		t.Fatal(err)
	}
	s := &doctorSetup{caFile: cfg.TLS.CertFile, records: recs, ports: map[string]string{}}
	keys := map[string]string{"smtp": "smtp", "submission": "submission", "submissions": "submissions",
		"imap": "imap", "imaps": "imaps", "pop3": "pop3", "pop3s": "pop3s", "webmail": "http"}
	var lines []string
	for _, b := range a.Listeners() {
		if k, ok := keys[b.Name]; ok {
			_, port, _ := net.SplitHostPort(b.Addr)
			s.ports[b.Name] = port
			lines = append(lines, fmt.Sprintf("%s = %q", k, b.Addr))
		}
	}
	if len(lines) != len(keys) {
		t.Fatalf("listeners %v", a.Listeners())
	}
	s.cfgFile = filepath.Join(dir, "gannet.toml")
	toml := fmt.Sprintf("hostname = %q\ndata_dir = %q\n[listeners]\n%s\nadmin = \"\"\n[tls]\ncert_file = %q\nkey_file = %q\n",
		docHost, cfg.DataDir, strings.Join(lines, "\n"), cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err := os.WriteFile(s.cfgFile, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// zone publishes every record `gannet domain dns` prints, the host's
// address and its PTR: a fully correct setup.
func (s *doctorSetup) zone(t *testing.T) *dnstest.Server {
	z := dnstest.Start(t)
	for _, r := range s.records {
		z.Add(r.Name, r.Type, r.Data)
	}
	z.Add(docHost, "A", "127.0.0.1")
	z.Add("1.0.0.127.in-addr.arpa", "PTR", docHost+".")
	return z
}

func (s *doctorSetup) doctor(t *testing.T, z *dnstest.Server, extra ...string) (int, string) {
	t.Helper()
	args := append([]string{"doctor", "--config", s.cfgFile, "--dns", z.Addr, "--ca-file", s.caFile, "--timeout", "5s"}, extra...)
	code, out, errs := gannet(t, "", append(args, docDomain)...)
	return code, out + errs
}

func (s *doctorSetup) record(typ, namePrefix string) mailauth.Record {
	for _, r := range s.records {
		if r.Type == typ && strings.HasPrefix(r.Name, namePrefix) {
			return r
		}
	}
	panic("no record " + typ + " " + namePrefix)
}

func linesWith(out, prefix string) []string {
	var ls []string
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, prefix) {
			ls = append(ls, l)
		}
	}
	return ls
}

// TestDoctor: against a real server on loopback and a DNS server on
// loopback, a fully correct setup passes every check; then each record is
// made wrong in turn, and the doctor fails naming exactly that record, with
// the line to publish.
func TestDoctor(t *testing.T) {
	t.Parallel()
	s := startDoctorServer(t)

	code, out := s.doctor(t, s.zone(t))
	if code != 0 || len(linesWith(out, "FAIL")) > 0 || len(linesWith(out, "WARN")) > 0 {
		t.Fatalf("correct setup: exit %d\n%s", code, out)
	}
	for _, want := range []string{"OK   MX doctor.test", "OK   PTR 127.0.0.1", "OK   SPF doctor.test", "OK   DMARC _dmarc.doctor.test",
		"OK   MTA-STS _mta-sts.doctor.test", "OK   MTA-STS policy https://mta-sts.doctor.test/", "OK   TLS-RPT",
		"OK   certificate mail.doctor.test", "OK   certificate mta-sts.doctor.test", "OK   name autoconfig.doctor.test",
		"OK   port " + s.ports["smtp"] + " (smtp)", "OK   port " + s.ports["imaps"] + " (imaps)", "OK   port " + s.ports["pop3s"] + " (pop3s)",
		"OK   port " + s.ports["webmail"] + " (https)"} {
		if !strings.Contains(out, want) {
			t.Errorf("correct setup: no line %q in\n%s", want, out)
		}
	}
	if n := len(linesWith(out, "OK   DKIM ")); n != 2 {
		t.Errorf("%d DKIM lines, want 2 (both keys)\n%s", n, out)
	}

	dkim := s.record("TXT", "gannet-ed25519")
	other, err := mailauth.GenerateKeys(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherTXT, _ := mailauth.KeyRecord(other[0].Signer.Public())
	mx := s.record("MX", docDomain)
	spf := s.record("TXT", docDomain+".")
	for _, c := range []struct {
		name   string
		break_ func(z *dnstest.Server)
		fail   []string // prefixes of the FAIL lines expected, every one of them
		fix    string   // a record that must appear in a FAIL line's fix
	}{
		{"missing MX", func(z *dnstest.Server) { z.Remove(docDomain, "MX") },
			// SPF's "mx" has nothing to match then either.
			[]string{"FAIL MX doctor.test", "FAIL SPF doctor.test"}, mx.String()},
		{"MX elsewhere", func(z *dnstest.Server) { z.Set(docDomain, "MX", "10 mx.elsewhere.test.") },
			[]string{"FAIL MX doctor.test", "FAIL SPF doctor.test"}, mx.String()},
		{"no address", func(z *dnstest.Server) { z.Remove(docHost, "A") },
			// Nothing else can be checked on the host then.
			[]string{"FAIL A/AAAA mail.doctor.test", "FAIL name mta-sts", "FAIL MTA-STS policy"}, ""},
		{"wrong PTR", func(z *dnstest.Server) { z.Set("1.0.0.127.in-addr.arpa", "PTR", "localhost.") },
			[]string{"FAIL PTR 127.0.0.1"}, ""},
		{"missing PTR", func(z *dnstest.Server) { z.Remove("1.0.0.127.in-addr.arpa", "PTR") },
			[]string{"FAIL PTR 127.0.0.1"}, ""},
		{"SPF without our address", func(z *dnstest.Server) { z.Set(docDomain, "TXT", `"v=spf1 ip4:192.0.2.1 -all"`) },
			[]string{"FAIL SPF doctor.test"}, spf.String()},
		{"no SPF", func(z *dnstest.Server) { z.Remove(docDomain, "TXT") },
			[]string{"FAIL SPF doctor.test"}, spf.String()},
		{"DKIM key mismatch", func(z *dnstest.Server) { z.Set(dkim.Name, "TXT", otherTXT) },
			[]string{"FAIL DKIM " + strings.TrimSuffix(dkim.Name, ".")}, dkim.String()},
		{"DKIM missing", func(z *dnstest.Server) { z.Remove(dkim.Name, "TXT") },
			[]string{"FAIL DKIM " + strings.TrimSuffix(dkim.Name, ".")}, dkim.String()},
		{"DMARC missing", func(z *dnstest.Server) { z.Remove("_dmarc."+docDomain, "TXT") },
			[]string{"FAIL DMARC _dmarc.doctor.test"}, s.record("TXT", "_dmarc").String()},
		{"DMARC unparseable", func(z *dnstest.Server) { z.Set("_dmarc."+docDomain, "TXT", "v=DMARC1; p=bogus") },
			[]string{"FAIL DMARC _dmarc.doctor.test"}, s.record("TXT", "_dmarc").String()},
		{"MTA-STS id mismatch", func(z *dnstest.Server) { z.Set("_mta-sts."+docDomain, "TXT", "v=STSv1; id=20200101") },
			[]string{"FAIL MTA-STS _mta-sts.doctor.test"}, s.record("TXT", "_mta-sts").String()},
		{"MTA-STS host missing", func(z *dnstest.Server) { z.Remove("mta-sts."+docDomain, "") },
			[]string{"FAIL name mta-sts.doctor.test", "FAIL MTA-STS policy https://mta-sts.doctor.test/"},
			s.record("CNAME", "mta-sts").String()},
		{"SRV elsewhere", func(z *dnstest.Server) { z.Set("_imaps._tcp."+docDomain, "SRV", "0 1 993 imap.elsewhere.test.") },
			[]string{"FAIL SRV _imaps._tcp.doctor.test"}, s.record("SRV", "_imaps").String()},
		{"SERVFAIL on DMARC", func(z *dnstest.Server) { z.Fail("_dmarc."+docDomain, true) },
			[]string{"FAIL DMARC _dmarc.doctor.test"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			z := s.zone(t)
			c.break_(z)
			code, out := s.doctor(t, z)
			if code == 0 {
				t.Errorf("exit 0 with a broken setup")
			}
			fails := linesWith(out, "FAIL")
			for _, f := range fails {
				ok := false
				for _, p := range c.fail {
					ok = ok || strings.HasPrefix(f, p)
				}
				if !ok {
					t.Errorf("unexpected %q", f)
				}
			}
			for _, p := range c.fail {
				if len(linesWith(out, p)) == 0 {
					t.Errorf("no line %q", p)
				}
			}
			if c.fix != "" && !strings.Contains(strings.Join(fails, "\n"), "fix: publish "+c.fix) {
				t.Errorf("no FAIL line says to publish %q", c.fix)
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}

	// Warnings: optional records missing fail nothing.
	t.Run("TLS-RPT and autoconfig missing", func(t *testing.T) {
		t.Parallel()
		z := s.zone(t)
		z.Remove("_smtp._tls."+docDomain, "TXT")
		z.Remove("autoconfig."+docDomain, "")
		z.Remove("_imap._tcp."+docDomain, "SRV")
		code, out := s.doctor(t, z)
		if code != 0 || len(linesWith(out, "FAIL")) > 0 {
			t.Errorf("exit %d\n%s", code, out)
		}
		for _, w := range []string{"WARN TLS-RPT _smtp._tls.doctor.test", "WARN name autoconfig.doctor.test",
			"WARN SRV _imap._tcp.doctor.test"} {
			if len(linesWith(out, w)) == 0 {
				t.Errorf("no line %q\n%s", w, out)
			}
		}
	})

	// A port that does not answer.
	t.Run("closed port", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		b, _ := os.ReadFile(s.cfgFile)
		cfg := strings.Replace(string(b), "pop3 = \"127.0.0.1:"+s.ports["pop3"]+"\"", "pop3 = \""+dead+"\"", 1)
		file := filepath.Join(t.TempDir(), "closed.toml")
		os.WriteFile(file, []byte(cfg), 0o600)
		_, port, _ := net.SplitHostPort(dead)
		code, out, errs := gannet(t, "", "doctor", "--config", file, "--dns", s.zone(t).Addr, "--ca-file", s.caFile, docDomain)
		fails := linesWith(out, "FAIL")
		if code == 0 || len(fails) != 1 || !strings.HasPrefix(fails[0], "FAIL port "+port+" (pop3) on 127.0.0.1") {
			t.Errorf("exit %d, FAIL lines %q\n%s%s", code, fails, out, errs)
		}
	})
}
