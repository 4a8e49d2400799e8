package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gannet/internal/acmetest"
	"gannet/internal/dnsx/dnstest"
)

// envRunMain makes the test binary run gannet's main instead of the tests,
// so that a test can start `gannet serve` as a process of its own (with its
// own environment) without building the binary.
const envRunMain = "GANNET_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestQuickstartServe: the config quickstart writes on an empty directory
// makes `gannet serve` start and get its certificate from an ACME CA
// (pebble on loopback, validating through TLS-ALPN-01 on the HTTPS
// listener) — only the listen addresses and the CA's directory changed, as
// a test must. Then the records quickstart printed are published on a
// loopback DNS server and `gannet doctor` finds nothing to fail,
// certificates for the service names included (issued on demand).
func TestQuickstartServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "gannet.toml")
	out := mustRun(t, "", "quickstart", "you@serve.test", "--config", cfgFile, "--data", filepath.Join(dir, "data"))

	zone := dnstest.Start(t)
	for l := range strings.SplitSeq(out, "\n") {
		f := strings.SplitN(l, "\t", 5)
		if len(f) == 5 && f[2] == "IN" && !strings.HasPrefix(f[4], "<") {
			zone.Add(f[0], f[3], f[4])
		}
	}
	zone.Add("mail.serve.test", "A", "127.0.0.1")
	zone.Add("1.0.0.127.in-addr.arpa", "PTR", "mail.serve.test.")

	// The listeners on free loopback ports, the CA on loopback.
	ports := map[string]int{}
	text, _ := os.ReadFile(cfgFile)
	served := string(text)
	for _, k := range []string{"smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "managesieve", "http", "admin"} {
		ports[k] = freeTCPPort(t)
		re := regexp.MustCompile(`(?m)^` + k + ` = "[^"]*"`)
		if !re.MatchString(served) {
			t.Fatalf("no listeners.%s in the written config", k)
		}
		served = re.ReplaceAllString(served, fmt.Sprintf(`%s = "127.0.0.1:%d"`, k, ports[k]))
	}
	ca := acmetest.Start(t, acmetest.Options{DNSServer: zone.Addr, TLSPort: ports["http"]})
	served = strings.Replace(served, `acme_directory_url = ""`, fmt.Sprintf("acme_directory_url = %q", ca.DirectoryURL), 1)
	servedFile := filepath.Join(dir, "served.toml")
	if err := os.WriteFile(servedFile, []byte(served), 0o600); err != nil {
		t.Fatal(err)
	}

	args := []string{"serve", "--config", servedFile}
	if os.Geteuid() == 0 {
		// The tests run as root in CI; the server refuses that unless
		// told (internal/runas), and this test is not about privileges.
		args = append(args, "--allow-root")
	}
	cmd := exec.Command(os.Args[0], args...)
	// SSL_CERT_FILE: the server trusts the CA's API endpoint as it would
	// trust Let's Encrypt's through the system's roots.
	cmd.Env = append(os.Environ(), envRunMain+"=1", "SSL_CERT_FILE="+ca.APICertFile)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("gannet serve:\n%s\npebble:\n%s", logs.String(), ca.Output())
		}
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", ports["smtp"]), exited)

	roots, rootPEM, err := ca.Roots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The first handshake for the host makes the server order its
	// certificate; the CA validates on the HTTPS listener; the handshake
	// then completes with the issued chain, verified against the CA's root.
	d := &net.Dialer{Timeout: 90 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", ports["http"]),
		&tls.Config{ServerName: "mail.serve.test", RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake with an ACME certificate: %v", err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if !slices.Contains(leaf.DNSNames, "mail.serve.test") || leaf.Issuer.CommonName == leaf.Subject.CommonName {
		t.Errorf("certificate for %v issued by %q", leaf.DNSNames, leaf.Issuer.CommonName)
	}
	// The mail listeners serve the same certificate.
	conn, err = tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", ports["imaps"]),
		&tls.Config{ServerName: "mail.serve.test", RootCAs: roots})
	if err != nil {
		t.Fatalf("IMAPS handshake: %v", err)
	}
	greeting, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if !strings.HasPrefix(greeting, "* OK") {
		t.Errorf("IMAPS greeting %q", greeting)
	}

	// The doctor, against the records as quickstart printed them.
	rootFile := filepath.Join(dir, "pebble-root.pem")
	os.WriteFile(rootFile, rootPEM, 0o600)
	code, dout, derr := gannet(t, "", "doctor", "--config", servedFile, "--dns", zone.Addr, "--ca-file", rootFile, "--timeout", "60s")
	if code != 0 || strings.Contains(dout, "FAIL") || strings.Contains(dout, "WARN") {
		t.Errorf("doctor: exit %d\n%s%s", code, dout, derr)
	}
	if !strings.Contains(dout, "OK   certificate autodiscover.serve.test") {
		t.Errorf("doctor did not check the service names' certificates:\n%s", dout)
	}
}

func freeTCPPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string, exited <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("gannet serve exited at start")
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gannet serve did not listen on %s within 60 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
