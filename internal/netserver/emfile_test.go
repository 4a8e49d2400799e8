//go:build linux

package netserver

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAcceptRealEMFILE runs a Listener in a child process whose descriptors
// are all used, with a client waiting: accept fails with EMFILE for real.
// The loop must sleep (little CPU), log once, and serve the client when
// descriptors come back.
func TestAcceptRealEMFILE(t *testing.T) {
	if os.Getenv("NETSERVER_EMFILE_CHILD") == "1" {
		emfileChild(t)
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcceptRealEMFILE$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "NETSERVER_EMFILE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "CHILD OK") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "child:") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func emfileChild(t *testing.T) {
	rl := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("setrlimit: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	nl := NewListener(ln, Config{Proto: "toy", Logger: slog.New(slog.NewTextHandler(logs, nil))})
	defer nl.Close()
	// Use every descriptor but one, which the client takes.
	var files []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				t.Fatalf("open: %v", err)
			}
			break
		}
		files = append(files, f)
	}
	files[len(files)-1].Close()
	files = files[:len(files)-1]
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer client.Close()
	const burst = 700 * time.Millisecond
	cpu0 := cpuTime()
	time.Sleep(burst)
	cpu := cpuTime() - cpu0
	// Free the descriptors: the waiting client is accepted.
	for _, f := range files {
		f.Close()
	}
	accepted := make(chan error, 1)
	go func() {
		c, err := nl.Accept()
		if err == nil {
			c.Close()
		}
		accepted <- err
	}()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatalf("Accept: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client not accepted after descriptors came back")
	}
	log := logs.String()
	t.Logf("child: %v of CPU during %v of EMFILE; log:\n%s", cpu, burst, log)
	if !strings.Contains(log, "too many open files") {
		t.Fatalf("accept never failed with EMFILE")
	}
	if n := strings.Count(log, "accept failed"); n != 1 {
		t.Errorf("%d 'accept failed' lines, want 1 per burst", n)
	}
	if !strings.Contains(log, "accept works again") {
		t.Errorf("recovery not logged")
	}
	// A spinning accept loop burns a whole core for the burst.
	if cpu > burst/4 {
		t.Errorf("%v of CPU during %v of EMFILE: the accept loop spins", cpu, burst)
	}
	if !t.Failed() {
		t.Log("CHILD OK")
	}
}
