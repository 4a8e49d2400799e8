package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gannet/internal/app"
	"gannet/internal/config"
	"gannet/internal/store"
)

// gannet runs the CLI in-process and returns exit code, stdout and stderr.
func gannet(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	code, out, errs := gannet(t, stdin, args...)
	if code != 0 {
		t.Fatalf("gannet %v: exit %d, stderr %q", args, code, errs)
	}
	return out
}

func TestAdminCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", dir, "example.org")
	mustRun(t, "", "domain", "add", "example.net", "--data", dir) // flags after arguments work too
	if out := mustRun(t, "", "domain", "list", "--data", dir); out != "example.net\nexample.org\n" {
		t.Fatalf("domain list = %q", out)
	}
	mustRun(t, "s3cret\n", "user", "add", "--data", dir, "Alice@Example.org")
	mustRun(t, "other", "user", "add", "--data", dir, "bob@example.org")
	out := mustRun(t, "", "user", "list", "--data", dir)
	if !strings.Contains(out, "alice@example.org\t") || !strings.Contains(out, "bob@example.org\t") {
		t.Fatalf("user list = %q", out)
	}
	mustRun(t, "", "alias", "add", "--data", dir, "team@example.org", "alice@example.org", "bob@example.org")
	mustRun(t, "", "alias", "add", "--data", dir, "@example.net", "alice@example.org")
	if out := mustRun(t, "", "alias", "list", "--data", dir); !strings.Contains(out, "team@example.org\talice@example.org,bob@example.org") ||
		!strings.Contains(out, "@example.net\talice@example.org") {
		t.Fatalf("alias list = %q", out)
	}
	mustRun(t, "newpass\n", "user", "passwd", "--data", dir, "alice@example.org")
	mustRun(t, "", "user", "quota", "--data", dir, "alice@example.org", "1000000", "100")
	mustRun(t, "", "user", "pop3-policy", "--data", dir, "alice@example.org", "keep")

	ctx := context.Background()
	st := openData(t, dir)
	if _, err := st.Authenticate(ctx, "alice@example.org", "newpass"); err != nil {
		t.Fatalf("password set by passwd does not authenticate: %v", err)
	}
	a, _ := st.Account(ctx, "alice@example.org")
	if a.QuotaBytes != 1000000 || a.QuotaMessages != 100 || a.POP3Policy != "keep" {
		t.Fatalf("account after quota/pop3-policy: %+v", a)
	}
	if res, err := st.Resolve(ctx, "anyone@example.net"); err != nil || len(res.Local) != 1 {
		t.Fatalf("catch-all alias: %+v %v", res, err)
	}
	st.Close()

	mustRun(t, "", "alias", "del", "--data", dir, "team@example.org")
	mustRun(t, "", "user", "del", "--data", dir, "bob@example.org")
	if out := mustRun(t, "", "user", "list", "--data", dir); strings.Contains(out, "bob@") {
		t.Fatalf("bob still listed: %q", out)
	}
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", dir, "example.org")
	mustRun(t, "pw", "user", "add", "--data", dir, "alice@example.org")
	cases := []struct {
		stdin string
		args  []string
		want  string // in stderr
	}{
		{"", []string{"nosuch"}, "unknown command"},
		{"", []string{"domain", "frob", "--data", dir}, "unknown verb"},
		{"", []string{"domain", "add", "--data", dir, "not a domain"}, "invalid"},
		{"", []string{"domain", "add", "--data", dir, "example.org"}, "already exists"},
		{"", []string{"domain", "del", "--data", dir, "example.org"}, "not permitted"},
		{"", []string{"domain", "add", "--data", dir}, "usage"},
		{"pw", []string{"user", "add", "--data", dir, "alice@example.org"}, "already exists"},
		{"pw", []string{"user", "add", "--data", dir, "x@unknown.org"}, "not found"},
		{"", []string{"user", "add", "--data", dir, "carol@example.org"}, "empty password"},
		{"pw", []string{"user", "add", "--data", dir, "no-at-sign"}, "invalid"},
		{"", []string{"user", "del", "--data", dir, "nobody@example.org"}, "not found"},
		{"", []string{"user", "quota", "--data", dir, "alice@example.org", "5x", "1"}, "non-negative"},
		{"", []string{"user", "pop3-policy", "--data", dir, "alice@example.org", "shred"}, "invalid"},
		{"", []string{"alias", "add", "--data", dir, "a@example.org"}, "usage"},
		{"", []string{"alias", "del", "--data", dir, "zzz@example.org"}, "not found"},
		{"", []string{"domain", "list", "--config", "/nonexistent/gannet.toml"}, "gannet.toml"},
		{"", []string{"domain", "list", "--data", dir, "--config", "x"}, "not both"},
		{"", []string{"domain", "list", "--bogus"}, "flag provided but not defined"},
	}
	for _, c := range cases {
		code, _, errs := gannet(t, c.stdin, c.args...)
		if code == 0 {
			t.Errorf("gannet %v: exit 0, want failure", c.args)
		}
		if !strings.Contains(strings.ToLower(errs), c.want) {
			t.Errorf("gannet %v: stderr %q, want it to mention %q", c.args, errs, c.want)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	t.Parallel()
	if out := mustRun(t, "", "version"); !strings.HasPrefix(out, "gannet ") {
		t.Fatalf("version = %q", out)
	}
	if code, _, errs := gannet(t, ""); code != 2 || !strings.Contains(errs, "usage") {
		t.Fatalf("no args: exit %d, %q", code, errs)
	}
	if code, _, _ := gannet(t, "", "user", "add", "-h"); code != 0 {
		t.Fatalf("user add -h: exit %d", code)
	}
}

// buildGannet compiles the real binary once per test that needs a process.
func buildGannet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gannet")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// TestDevServer is the README contract: `gannet dev --data DIR` creates the
// directory, a certificate and the demo account, prints the password, and keeps
// printing the same one on later runs.
func TestDevServer(t *testing.T) {
	t.Parallel()
	bin := buildGannet(t)
	dir := filepath.Join(t.TempDir(), "data")
	pw1 := runDev(t, bin, dir)
	pw2 := runDev(t, bin, dir)
	if pw1 == "" || pw1 != pw2 {
		t.Fatalf("dev passwords %q then %q", pw1, pw2)
	}
	for _, f := range []string{"tls/cert.pem", "tls/key.pem", "gannet.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("dev did not create %s: %v", f, err)
		}
	}
	ctx := context.Background()
	st := openData(t, dir)
	defer st.Close()
	if _, err := st.Authenticate(ctx, "demo@gannet.test", pw1); err != nil {
		t.Fatalf("printed demo password does not authenticate: %v", err)
	}
	// Admin commands work on the same directory.
	mustRun(t, "pw", "user", "add", "--data", dir, "bob@gannet.test")
}

func runDev(t *testing.T, bin, dir string) string {
	t.Helper()
	// A random port offset keeps this test clear of a developer's own dev server.
	// Dev ports are 2110-8081: this keeps them below the ephemeral range (32768+)
	// that listeners on port 0 take.
	offset := 10000 + rand.IntN(14000)
	cmd := exec.Command(bin, "dev", "--data", dir, "--port-offset", strconv.Itoa(offset))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw := ""
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "password:"); ok {
				pw = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, "Press Ctrl-C") {
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("gannet dev did not print its banner within 60 s")
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("gannet dev exit: %v", err)
	}
	return pw
}

// TestDomainDNS: a domain added by the CLI has DKIM keys, and `domain dns` prints
// every record to publish, with DKIM public keys that parse.
func TestDomainDNS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", dir, "example.org")
	out := mustRun(t, "", "domain", "dns", "--data", dir, "--host", "mx1.example.org", "example.org")
	for _, want := range []string{
		"example.org.", "MX", "mx1.example.org.", "v=spf1", "._domainkey.example.org.", "k=ed25519", "k=rsa",
		"_dmarc.example.org.", "v=DMARC1", "_mta-sts.example.org.", "_smtp._tls.example.org.",
		"_submissions._tcp.example.org.", "_imaps._tcp.example.org.", "_pop3s._tcp.example.org.",
		"_autodiscover._tcp.example.org.", "autoconfig.example.org.", "autodiscover.example.org.", "mta-sts.example.org.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("domain dns output lacks %q:\n%s", want, out)
		}
	}
	// Without --host or --config the host is a guess, and it says so.
	if code, out, errs := gannet(t, "", "domain", "dns", "--data", dir, "example.org"); code != 0 ||
		!strings.Contains(out, "mail.example.org.") || !strings.Contains(errs, "assuming the server's hostname is mail.example.org") {
		t.Errorf("domain dns without a host: exit %d, %q, %q", code, out, errs)
	}
	if code, _, errs := gannet(t, "", "domain", "dns", "--data", dir, "unknown.org"); code == 0 || !strings.Contains(errs, "not found") {
		t.Errorf("domain dns of an unknown domain: exit %d, %q", code, errs)
	}
}

// TestServerGC: without GOGC and GOMEMLIMIT the server raises the GC target
// only together with a memory limit below the machine's memory.
func TestServerGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	oldPct := debug.SetGCPercent(100)
	oldLimit := debug.SetMemoryLimit(math.MaxInt64)
	defer func() {
		debug.SetGCPercent(oldPct)
		debug.SetMemoryLimit(oldLimit)
	}()
	serverGC()
	total := memTotal()
	if total == 0 {
		if got := debug.SetGCPercent(100); got != 100 {
			t.Fatalf("no memory size known, yet GC percent set to %d", got)
		}
		return
	}
	limit := debug.SetMemoryLimit(-1)
	if limit <= 0 || limit > total/2 {
		t.Fatalf("memory limit %d, want at most half of %d", limit, total)
	}
	if got := debug.SetGCPercent(-1); got != 400 {
		t.Fatalf("GC percent %d, want 400", got)
	}
}

// openData opens the store of the data directory dir the way the admin
// commands' --data does (app.OpenStore), for a test to check what a command
// did. --data names a directory, so this is SQLite.
func openData(t *testing.T, dir string) store.Store {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Domains = nil
	st, err := app.OpenStore(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
