package clustertest

import (
	"bufio"
	"bytes"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"gannet/internal/store/pgstore/pgtest"
)

// pg is this test binary's PostgreSQL server.
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, pgtest.Options{}, &pg)) }

const domain = "cluster.test"

// node is one `gannet serve` process and its addresses.
type node struct {
	name   string
	bin    string
	config string
	smtp   string // MX
	imaps  string
	admin  string

	// rewrite writes the configuration again from the fields above (after
	// new ports were chosen for a first start that found one taken).
	rewrite func() error
	started bool // started once: its ports are known to the test

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	log    *bytes.Buffer
}

// cluster is n nodes on one database.
type cluster struct {
	t     *testing.T
	bin   string
	dir   string
	dsn   string // the nodes' database
	nodes []*node
}

// buildGannet compiles the real binary.
func buildGannet(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gannet")
	cmd := exec.Command("go", "build", "-o", bin, "gannet/cmd/gannet")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeCert writes a self-signed certificate for the cluster's host name.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "mail." + domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		DNSNames:     []string{"mail." + domain, "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// newCluster writes n node configurations on one fresh database; extra is
// appended to every configuration (e.g. queue transports).
func newCluster(t *testing.T, n int, extra string) *cluster {
	t.Helper()
	return newClusterTop(t, n, "", extra)
}

// newClusterTop is newCluster with top-level keys (top) as well.
func newClusterTop(t *testing.T, n int, top, extra string) *cluster {
	t.Helper()
	c := &cluster{t: t, bin: buildGannet(t), dir: t.TempDir()}
	dsn := pg.NewDatabase(t)
	c.dsn = dsn
	certFile, keyFile := writeCert(t, c.dir)
	for i := 1; i <= n; i++ {
		nd := &node{
			name:  fmt.Sprintf("node%d", i),
			bin:   c.bin,
			smtp:  freeAddr(t),
			imaps: freeAddr(t),
			admin: freeAddr(t),
		}
		nd.config = filepath.Join(c.dir, nd.name+".toml")
		nd.rewrite = func() error {
			cfg := fmt.Sprintf(`hostname = "mail.%[1]s"
node_name = %[2]q
data_dir = %[3]q
store = %[4]q
domains = [%[1]q]
postmaster = "postmaster@%[1]s"
%[11]s
# dev: no SPF/DKIM/DMARC lookups on the MX. Tests never ask real DNS
# (docs/ARCHITECTURE.md); this machine's resolver drops a query now and
# then, which stalled a delivery for its 5 s timeout.
dev = true
# The tests run as root in CI; the server refuses that unless told.
allow_root = true

[listeners]
smtp = %[5]q
submission = ""
submissions = ""
imap = ""
imaps = %[6]q
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
admin = %[7]q

[tls]
cert_file = %[8]q
key_file = %[9]q
%[10]s`, domain, nd.name, filepath.Join(c.dir, nd.name), dsn, nd.smtp, nd.imaps, nd.admin, certFile, keyFile, extra, top)
			return os.WriteFile(nd.config, []byte(cfg), 0o600)
		}
		if err := nd.rewrite(); err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, nd)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
		}
		if t.Failed() {
			for _, nd := range c.nodes {
				t.Logf("--- %s log ---\n%s", nd.name, nd.logTail(4000))
			}
		}
	})
	return c
}

// admin runs an admin command through node i's configuration.
func (c *cluster) admin(i int, stdin string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(args, "--config", c.nodes[i].config)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("gannet %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start runs the node's server and waits until its MX greets.
func (nd *node) start(t *testing.T) {
	t.Helper()
	if err := nd.run(); err != nil {
		t.Fatal(err)
	}
}

// run starts the node and waits until it listens (safe off the test's
// goroutine). Ports were chosen free (freeAddr) but may be taken by another
// test's listener before the node binds them: a first start that finds one
// taken tries again on new ports; a restart tries the same ports again
// (the test's clients know them).
func (nd *node) run() error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var busy bool
		if busy, err = nd.try(); err == nil {
			nd.started = true
			return nil
		}
		if !busy {
			return err
		}
		if !nd.started && nd.rewrite != nil {
			for _, a := range []*string{&nd.smtp, &nd.imaps, &nd.admin} {
				if *a, err = freePort(); err != nil {
					return err
				}
			}
			if err = nd.rewrite(); err != nil {
				return err
			}
		} else {
			time.Sleep(500 * time.Millisecond)
		}
	}
	return err
}

// try starts the process once and waits until its log says it listens on
// the node's SMTP and IMAPS addresses and its MX greets; busy reports that
// it exited because an address was taken.
func (nd *node) try() (busy bool, err error) {
	nd.mu.Lock()
	cmd := exec.Command(nd.bin, "serve", "--config", nd.config)
	nd.log = &bytes.Buffer{}
	cmd.Stdout = &lockedWriter{mu: &nd.mu, w: nd.log}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		nd.mu.Unlock()
		return false, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	nd.cmd, nd.exited = cmd, exited
	nd.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-exited:
			nd.mu.Lock()
			nd.cmd = nil
			nd.mu.Unlock()
			log := nd.logTail(4000)
			return strings.Contains(log, "address already in use"), fmt.Errorf("%s exited at start:\n%s", nd.name, log)
		default:
		}
		log := nd.logTail(1 << 20)
		if strings.Contains(log, "server=smtp addr="+nd.smtp) && strings.Contains(log, "server=imaps addr="+nd.imaps) {
			conn, err := net.DialTimeout("tcp", nd.smtp, time.Second)
			if err == nil {
				conn.SetDeadline(time.Now().Add(5 * time.Second))
				line, _ := bufio.NewReader(conn).ReadString('\n')
				conn.Close()
				if strings.HasPrefix(line, "220") {
					return false, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("%s did not listen on %s within 60 s:\n%s", nd.name, nd.smtp, nd.logTail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort is an address on 127.0.0.1 free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// kill ends the node with SIGKILL (a crash: nothing is flushed or said).
func (nd *node) kill() {
	nd.mu.Lock()
	cmd, exited := nd.cmd, nd.exited
	nd.cmd = nil
	nd.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

func (nd *node) logTail(n int) string {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.log == nil {
		return ""
	}
	b := nd.log.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// message builds a distinct test message.
func message(id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Load <load@sender.test>\r\nTo: alice@%s\r\nSubject: load %s\r\nMessage-ID: <%s@sender.test>\r\nDate: Mon, 07 Dec 2026 12:00:00 +0000\r\n\r\n", domain, id, id)
	line := strings.Repeat("x", 70) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// send delivers one message through an MX; nil means it was answered 250.
func send(addr, to string, msg []byte) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("sender.test"); err != nil {
		return err
	}
	if err := c.Mail("load@sender.test"); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func dialIMAP(t *testing.T, addr string, opts *imapclient.Options) *imapclient.Client {
	t.Helper()
	if opts == nil {
		opts = &imapclient.Options{}
	}
	opts.TLSConfig = &tls.Config{InsecureSkipVerify: true}
	c, err := imapclient.DialTLS(addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login("alice@"+domain, "alice-password").Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// inbox returns every message of alice's INBOX by Message-ID (the id part),
// with how many times each appears.
func inbox(t *testing.T, addr string) (bodies map[string][]byte, counts map[string]int) {
	t.Helper()
	c := dialIMAP(t, addr, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	var all imap.SeqSet
	all.AddRange(1, 0) // 1:*
	msgs, err := c.Fetch(all, &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	bodies, counts = map[string][]byte{}, map[string]int{}
	for _, m := range msgs {
		raw := m.FindBodySection(section)
		i := bytes.Index(raw, []byte("Message-ID: <"))
		if i < 0 {
			t.Fatalf("message without Message-ID: %.200q", raw)
		}
		id, _, _ := strings.Cut(string(raw[i+len("Message-ID: <"):]), "@")
		bodies[id] = raw
		counts[id]++
	}
	return bodies, counts
}

// TestThreeNodes: three `gannet serve` on one PostgreSQL; SMTP load over
// all three with one node SIGKILLed and restarted mid-load: every message
// answered 250 is in the mailbox exactly once, byte-identical (after the
// trace fields the MX prepends); an IMAP IDLE session on node 2 hears of a
// delivery made through node 1.
func TestThreeNodes(t *testing.T) {
	threeNodes(t, newCluster(t, 3, ""))
}

// threeNodes runs the TestThreeNodes scenario on c.
func threeNodes(t *testing.T, c *cluster) {
	for _, nd := range c.nodes {
		nd.start(t)
	}
	c.admin(1, "alice-password\n", "user", "add", "alice@"+domain)

	// Push across nodes: IDLE on node 2, deliver through node 1.
	var idleMu sync.Mutex
	var exists uint32
	idleSeen := make(chan struct{}, 16)
	ic := dialIMAP(t, c.nodes[1].imaps, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				idleMu.Lock()
				exists = *d.NumMessages
				idleMu.Unlock()
				idleSeen <- struct{}{}
			}
		},
	}})
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := ic.Idle()
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if err := send(c.nodes[0].smtp, "alice@"+domain, message("push", 1000)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-idleSeen:
		t.Logf("IDLE on node 2 heard a delivery through node 1 after %v", time.Since(sent))
	case <-time.After(10 * time.Second):
		t.Fatal("IDLE on node 2 heard nothing of a delivery through node 1 within 10 s")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	idleMu.Lock()
	if exists != 1 {
		t.Errorf("IDLE reported EXISTS %d, want 1", exists)
	}
	idleMu.Unlock()

	// Load over the three nodes; node 3 dies a third of the way in and
	// comes back two thirds of the way.
	const senders, perSender = 6, 40
	var mu sync.Mutex
	accepted := map[string][]byte{}
	var wg sync.WaitGroup
	var done sync.WaitGroup
	killAt, restartAt := senders*perSender/3, 2*senders*perSender/3
	progress := make(chan struct{}, senders*perSender)
	done.Add(1)
	go func() {
		defer done.Done()
		n := 0
		for range progress {
			n++
			switch n {
			case killAt:
				c.nodes[2].kill()
			case restartAt:
				if err := c.nodes[2].run(); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSender {
				id := fmt.Sprintf("m%d-%d", s, i)
				msg := message(id, 2000+97*i)
				nd := c.nodes[(s+i)%len(c.nodes)]
				if err := send(nd.smtp, "alice@"+domain, msg); err == nil {
					mu.Lock()
					accepted[id] = msg
					mu.Unlock()
				}
				progress <- struct{}{}
			}
		}()
	}
	wg.Wait()
	close(progress)
	done.Wait()
	t.Logf("%d of %d messages answered 250", len(accepted), senders*perSender)
	if len(accepted) < senders*perSender/2 {
		t.Fatalf("only %d of %d messages accepted", len(accepted), senders*perSender)
	}
	// Each node's /metrics names it and counts its delivery transactions.
	for _, nd := range c.nodes[:2] {
		resp, err := http.Get("http://" + nd.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := string(body)
		if !strings.Contains(m, `gannet_node_info{node="`+nd.name+`"} 1`) {
			t.Errorf("%s /metrics has no gannet_node_info for it", nd.name)
		}
		var batches, deliveries int64
		for _, l := range strings.Split(m, "\n") {
			fmt.Sscanf(l, "gannet_store_delivery_batches_total %d", &batches)
			fmt.Sscanf(l, "gannet_store_deliveries_total %d", &deliveries)
		}
		if batches <= 0 || deliveries < batches {
			t.Errorf("%s /metrics: %d delivery batches, %d deliveries", nd.name, batches, deliveries)
		}
		t.Logf("%s: %d deliveries in %d transactions", nd.name, deliveries, batches)
	}
	for i, nd := range c.nodes {
		bodies, counts := inbox(t, nd.imaps)
		for id, want := range accepted {
			got, ok := bodies[id]
			switch {
			case !ok:
				t.Errorf("node %d: message %s answered 250 is missing", i+1, id)
			case counts[id] != 1:
				t.Errorf("node %d: message %s is there %d times", i+1, id, counts[id])
			case !bytes.HasSuffix(got, want):
				t.Errorf("node %d: message %s is not byte-identical", i+1, id)
			}
		}
		for id, n := range counts {
			if n != 1 {
				t.Errorf("node %d: message %s is there %d times", i+1, id, n)
			}
		}
	}
}

// TestAdminFromAnyNode: an account added through one node's configuration
// logs in on another, and its deletion through a third ends the session
// on the second.
func TestAdminFromAnyNode(t *testing.T) {
	c := newCluster(t, 3, "")
	for _, nd := range c.nodes {
		nd.start(t)
	}
	c.admin(0, "alice-password\n", "user", "add", "alice@"+domain)
	ic := dialIMAP(t, c.nodes[1].imaps, nil)
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	c.admin(2, "", "user", "del", "alice@"+domain)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := ic.Noop().Wait(); err != nil {
			return // the session ended
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the IMAP session on node 2 still works 5 s after its account was deleted through node 3")
}

// TestLoginLimitAcrossNodes: wrong passwords from one address spread over
// three nodes (as a load balancer would spread them) are counted together:
// after login_failures_per_minute (5) + 1 failures in all, every node
// refuses that address, also with the right password, as one node would.
// Without the nodes sharing their failures each would allow six of its own.
func TestLoginLimitAcrossNodes(t *testing.T) {
	c := newCluster(t, 3, "")
	for _, nd := range c.nodes {
		nd.start(t)
	}
	c.admin(0, "alice-password\n", "user", "add", "alice@"+domain)
	try := func(nd *node, pw string) error {
		cl, err := imapclient.DialTLS(nd.imaps, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		return cl.Login("alice@"+domain, pw).Wait()
	}
	for i := range 6 {
		nd := c.nodes[i%3]
		if err := try(nd, "wrong"); err == nil || strings.Contains(err.Error(), "UNAVAILABLE") {
			t.Fatalf("wrong password %d on %s: %v; want a plain authentication failure", i+1, nd.name, err)
		}
		// Let the nodes hear of each other (they exchange every 250 ms).
		time.Sleep(600 * time.Millisecond)
	}
	for _, nd := range c.nodes {
		err := try(nd, "alice-password")
		if err == nil || !strings.Contains(err.Error(), "UNAVAILABLE") {
			t.Errorf("%s after 6 failures spread over 3 nodes: %v; want NO [UNAVAILABLE] (blocked)", nd.name, err)
		}
	}
}
