package managesieve

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSieveConnect: Debian's sieve-connect (Perl, IO::Socket::SSL, its own
// SASL) uploads, activates, lists, downloads and deletes a script over
// STARTTLS, and the store holds what it uploaded.
func TestSieveConnect(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("sieve-connect")
	if err != nil {
		t.Fatal("sieve-connect not found: install it (Debian: apt-get install -y sieve-connect)")
	}
	e := newEnv(t)
	host, port, _ := net.SplitHostPort(e.addr)
	dir := t.TempDir()
	src := "require \"fileinto\";\nif header :contains \"subject\" \"x\" { fileinto \"X\"; }\n"
	local := filepath.Join(dir, "rules.sieve")
	if err := os.WriteFile(local, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"-s", host, "-p", port, "-u", "alice@example.org",
			"--passwordfd", "0", "--notlsverify", "--authmech", "PLAIN"}, args...)...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader("alice pw\n")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("sieve-connect %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	run("--upload", "--localsieve", local, "--remotesieve", "rules")
	run("--activate", "--remotesieve", "rules")
	if out := run("--list"); !strings.Contains(out, "rules") || !strings.Contains(out, "ACTIVE") && !strings.Contains(out, "<-- active") {
		t.Fatalf("--list:\n%s", out)
	}
	down := filepath.Join(dir, "down.sieve")
	run("--download", "--remotesieve", "rules", "--localsieve", down)
	if got, err := os.ReadFile(down); err != nil || strings.ReplaceAll(string(got), "\r\n", "\n") != src {
		t.Fatalf("downloaded %q (%v), want %q", got, err, src)
	}
	sc, err := e.st.ActiveSieveScript(context.Background(), e.alice.ID)
	if err != nil || sc.Name != "rules" {
		t.Fatalf("store's active script %+v %v", sc, err)
	}
	run("--deactivate")
	run("--delete", "--remotesieve", "rules")
	if list, _ := e.st.SieveScripts(context.Background(), e.alice.ID); len(list) != 0 {
		t.Fatalf("scripts left: %+v", list)
	}
}
