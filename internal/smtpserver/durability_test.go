package smtpserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gannet/internal/delivery"
	"gannet/internal/store/sqlstore"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// childEnv names the data directory when the test binary runs as the MX
// process of TestDurability.
const childEnv = "GANNET_SMTPSERVER_DURABILITY_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(m.Run())
}

// runChild serves an MX on the store in dir, prints "ADDR host:port", and runs
// until it is killed or its stdin closes (the parent went away).
func runChild(dir string) int {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, dir, sqlstore.Options{FastPasswords: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open store:", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := delivery.New(delivery.Options{Store: st, Hostname: "mx.example.org", Logger: log})
	srv := New(Options{Mode: MX, Hostname: "mx.example.org", Store: st, Deliverer: d, Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	fmt.Printf("ADDR %s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	srv.Serve(ln)
	return 0
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startChild(t *testing.T, dir string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	t.Cleanup(c.kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("child did not start: %q, %v", line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return c
}

func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.stdin.Close()
	c.cmd.Wait()
}

// TestDurability: clients send messages concurrently to an MX in a child
// process, which is killed with SIGKILL at a random moment; after a restart on
// the same data directory every message that was answered 250 must be in the
// mailbox. Ten rounds.
//
// It opens sqlstore itself, not testopen: the child process owns a SQLite
// database in a directory it is given, and what is tested is that database's
// recovery after SIGKILL. (A multi-node crash test on PostgreSQL is a
// separate test.)
func TestDurability(t *testing.T) {
	t.Parallel()
	testopen.RequireSQLite(t, "crash recovery of the SQLite database")
	dir := t.TempDir()
	st, err := sqlstore.Open(context.Background(), dir, sqlstore.Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	alice := storetest.NewAccount(t, st, "alice@example.org", alicePW)
	st.Close()

	var mu sync.Mutex
	acked := map[string]bool{}
	verify := func(round int) {
		st, err := sqlstore.Open(context.Background(), dir, sqlstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		have := map[string]int{}
		for _, m := range listInbox(t, st, alice.ID) {
			have[m.Parsed.Subject]++
		}
		mu.Lock()
		defer mu.Unlock()
		for s := range acked {
			if have[s] == 0 {
				t.Errorf("after round %d: %q was answered 250 but is not in the mailbox", round, s)
			}
		}
		for s, n := range have {
			if n > 1 {
				t.Errorf("after round %d: %q stored %d times", round, s, n)
			}
		}
		t.Logf("after round %d: %d acknowledged, %d stored", round, len(acked), len(have))
	}

	const rounds, senders = 10, 6
	for round := range rounds {
		c := startChild(t, dir)
		if round > 0 {
			verify(round - 1) // the restarted server recovered the killed one's data
		}
		var wg sync.WaitGroup
		flowing := make(chan struct{})
		var once sync.Once
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sendUntilError(c.addr, func(i int) string { return fmt.Sprintf("r%d-g%d-m%d", round, g, i) },
					func(subject string) {
						mu.Lock()
						acked[subject] = true
						mu.Unlock()
						once.Do(func() { close(flowing) })
					})
			}()
		}
		// Kill at a random moment once messages are flowing, so that every
		// round has deliveries in flight, however slow the machine.
		select {
		case <-flowing:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no message acknowledged", round)
		}
		time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
		c.kill()
		wg.Wait()
	}
	c := startChild(t, dir)
	verify(rounds - 1)
	c.kill()
	if len(acked) < rounds {
		t.Fatalf("only %d messages acknowledged in %d rounds: the test proved little", len(acked), rounds)
	}
}

// sendUntilError sends messages on one connection (pipelining each
// transaction) until the server goes away; ack is called for each 250.
func sendUntilError(addr string, subject func(int) string, ack func(string)) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	readReply := func() (int, error) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return 0, err
			}
			if len(line) < 4 {
				return 0, fmt.Errorf("short line %q", line)
			}
			if line[3] == ' ' {
				var code int
				fmt.Sscanf(line[:3], "%d", &code)
				return code, nil
			}
		}
	}
	if code, err := readReply(); err != nil || code != 220 {
		return
	}
	if _, err := io.WriteString(c, "EHLO load.example\r\n"); err != nil {
		return
	}
	if code, err := readReply(); err != nil || code != 250 {
		return
	}
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n", 60)
	for i := 0; ; i++ {
		s := subject(i)
		msg := "From: load@remote.example\r\nTo: alice@example.org\r\nSubject: " + s + "\r\n\r\n" + body + ".\r\n"
		if _, err := io.WriteString(c, "MAIL FROM:<load@remote.example>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n"); err != nil {
			return
		}
		for _, want := range []int{250, 250, 354} {
			if code, err := readReply(); err != nil || code != want {
				return
			}
		}
		if _, err := io.WriteString(c, msg); err != nil {
			return
		}
		code, err := readReply()
		if err != nil {
			return
		}
		if code == 250 {
			ack(s)
		}
	}
}
