package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gannet/internal/app"
	"gannet/internal/config"
)

var passwordLine = regexp.MustCompile(`(?m)^  password: (\S+)$`)

// TestQuickstart: on an empty directory quickstart writes a production
// config, creates the domain and the account, and prints the DNS records,
// the unit and the next steps in that order; a second run changes nothing
// and says so; an edited config is refused and left alone; --dry-run
// writes nothing.
func TestQuickstart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "etc", "gannet.toml")
	data := filepath.Join(dir, "data")
	args := []string{"quickstart", "You@QS.test", "--config", cfgFile, "--data", data}

	// Dry run first: nothing appears on disk.
	out := mustRun(t, "", append(args, "--dry-run")...)
	for _, want := range []string{"Dry run", "would write config " + cfgFile, "would add domain qs.test", "would add account you@qs.test",
		"qs.test.\t3600\tIN\tMX\t10 mail.qs.test."} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run: no %q in\n%s", want, out)
		}
	}
	if passwordLine.MatchString(out) {
		t.Errorf("dry run printed a password")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("dry run wrote %v", ents)
	}

	out = mustRun(t, "", args...)
	m := passwordLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no password printed:\n%s", out)
	}
	password := m[1]
	if len(password) < 24 {
		t.Errorf("password %q is short", password)
	}
	// In order: the records, the unit, what to do next.
	iMX := strings.Index(out, "qs.test.\t3600\tIN\tMX\t10 mail.qs.test.")
	iDKIM := strings.Index(out, "._domainkey.qs.test.\t3600\tIN\tTXT\t\"v=DKIM1; k=ed25519; p=")
	iUnit := strings.Index(out, "[Service]\nExecStart=")
	iNext := strings.Index(out, "Next steps")
	if iMX < 0 || iDKIM < 0 || iUnit < 0 || iNext < 0 || !(iMX < iUnit && iUnit < iNext) {
		t.Errorf("records (%d, %d), unit (%d), next steps (%d) missing or out of order:\n%s", iMX, iDKIM, iUnit, iNext, out)
	}
	if !strings.Contains(out, "serve --config "+cfgFile) || !strings.Contains(out, "gannet doctor --config "+cfgFile) {
		t.Errorf("unit or next steps do not name the config:\n%s", out)
	}

	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatalf("the written config does not load: %v", err)
	}
	want := config.Default().Listeners
	want.TrustedProxies = nil
	if cfg.Hostname != "mail.qs.test" || cfg.DataDir != data || !slices.Equal(cfg.Domains, []string{"qs.test"}) ||
		cfg.Postmaster != "you@qs.test" || !cfg.TLS.ACME || !slices.Equal(cfg.TLS.ACMEHosts, []string{"mail.qs.test"}) ||
		cfg.TLS.ACMEEmail != "you@qs.test" || cfg.TLS.CertFile != "" || cfg.TLS.ACMEDirectoryURL != "" ||
		len(cfg.Queue.Transports) != 0 || cfg.Dev || cfg.Listeners.SMTP != want.SMTP || cfg.Listeners.HTTP != ":443" ||
		cfg.Listeners.IMAPS != ":993" || cfg.Listeners.Submissions != ":465" {
		t.Errorf("config: %+v", cfg)
	}
	written, _ := os.ReadFile(cfgFile)
	if fi, _ := os.Stat(cfgFile); fi.Mode().Perm() != 0o644 {
		t.Errorf("config mode %v", fi.Mode())
	}

	check := func() {
		t.Helper()
		st, err := app.OpenStore(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Authenticate(context.Background(), "you@qs.test", password); err != nil {
			t.Errorf("the printed password does not log in: %v", err)
		}
		keys, err := st.DKIMKeys(context.Background(), "qs.test")
		if err != nil || len(keys) != 2 {
			t.Errorf("DKIM keys: %d, %v", len(keys), err)
		}
	}
	check()

	// Again: nothing changes, the password stays, the records are printed again.
	out = mustRun(t, "", args...)
	if passwordLine.MatchString(out) || !strings.Contains(out, "Nothing changed") ||
		!strings.Contains(out, "account you@qs.test: exists, its password unchanged") || !strings.Contains(out, "\tMX\t10 mail.qs.test.") {
		t.Errorf("second run:\n%s", out)
	}
	if again, _ := os.ReadFile(cfgFile); string(again) != string(written) {
		t.Errorf("second run changed the config")
	}
	check()
	// A dry run now reports what exists, with the real DKIM records.
	out = mustRun(t, "", append(args, "--dry-run")...)
	if !strings.Contains(out, "already as quickstart writes it") || !strings.Contains(out, "domain qs.test: exists") ||
		!strings.Contains(out, "k=ed25519; p=") {
		t.Errorf("dry run on a set-up server:\n%s", out)
	}

	// An edited config is refused and left as it is.
	edited := append(written, []byte("\n# my edit\n")...)
	os.WriteFile(cfgFile, edited, 0o644)
	code, _, errs := gannet(t, "", args...)
	if code == 0 || !strings.Contains(errs, "is not the configuration quickstart writes") || !strings.Contains(errs, "nothing was changed") {
		t.Errorf("edited config: exit %d, %q", code, errs)
	}
	if now, _ := os.ReadFile(cfgFile); string(now) != string(edited) {
		t.Errorf("quickstart overwrote an edited config")
	}
	// So is another host name for the same file.
	os.WriteFile(cfgFile, written, 0o644)
	if code, _, _ := gannet(t, "", append(args, "--host", "mx.qs.test")...); code == 0 {
		t.Errorf("a different --host did not refuse the existing config")
	}
	check()

	// The untouched example, as a package installs it, is replaced.
	other := filepath.Join(dir, "packaged.toml")
	os.WriteFile(other, []byte(config.Example()), 0o600)
	os.Chmod(other, 0o640)
	out = mustRun(t, "", "quickstart", "you@qs.test", "--config", other, "--data", data)
	if got, _ := os.ReadFile(other); string(got) != string(written) || !strings.Contains(out, "replacing the untouched example") {
		t.Errorf("the packaged example was not replaced by the quickstart config:\n%s", out)
	}
	if fi, _ := os.Stat(other); fi.Mode().Perm() != 0o640 {
		t.Errorf("the replaced config's mode %v was not kept", fi.Mode())
	}

	for _, bad := range []string{"nobody", "a@b", "@qs.test", "x@"} {
		if code, _, errs := gannet(t, "", "quickstart", bad, "--config", filepath.Join(dir, "bad.toml"), "--data", data); code == 0 || errs == "" {
			t.Errorf("quickstart %q: exit %d, %q", bad, code, errs)
		}
	}
}
