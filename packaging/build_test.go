package packaging

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests share one release build: the binary as release.sh builds it
// (static, -trimpath, stamped) and the packaged config. go's build cache
// makes the rebuild after a change cost one link.
type artifacts struct {
	once           sync.Once
	err            error
	dir, bin, conf string
	repo           string
}

// testVersion is what the test build is stamped with.
const (
	testVersion  = "9.9.9~test"
	testRevision = "0123456789abcdef0123456789abcdef01234567"
)

func (a *artifacts) build() error {
	a.once.Do(func() {
		a.repo, a.err = filepath.Abs("..")
		if a.err != nil {
			return
		}
		if a.dir, a.err = os.MkdirTemp("", "gannet-packaging-"); a.err != nil {
			return
		}
		// Readable by the unprivileged users the tests run the binary as.
		os.Chmod(a.dir, 0o755)
		a.bin = filepath.Join(a.dir, "gannet")
		a.conf = filepath.Join(a.dir, "gannet.toml")
		build := exec.Command("go", "build", "-trimpath", "-ldflags",
			"-s -w -X main.version="+testVersion+" -X main.revision="+testRevision+" -X main.modified=false",
			"-o", a.bin, "./cmd/gannet")
		build.Dir = a.repo
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			a.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		conf := exec.Command("go", "run", "./packaging/prodconfig", "-o", a.conf)
		conf.Dir = a.repo
		if out, err := conf.CombinedOutput(); err != nil {
			a.err = fmt.Errorf("prodconfig: %v\n%s", err, out)
		}
	})
	return a.err
}

// built is the package's one build, made by the first test that needs it.
func built(t *testing.T) *artifacts {
	t.Helper()
	if err := shared.build(); err != nil {
		t.Fatal(err)
	}
	return &shared
}

// shared is written once (sync.Once) by the first test that builds; the
// directory is removed by TestMain.
var shared artifacts

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// buildDeb runs nfpm as release.sh does, for the host's architecture, into
// dir, and returns the .deb's path.
func buildDeb(t *testing.T, a *artifacts, dir string) string {
	t.Helper()
	cmd := exec.Command("go", "tool", "-modfile=tools/nfpm/go.mod", "nfpm", "package",
		"-f", "packaging/nfpm.yaml", "-p", "deb", "-t", dir+"/")
	cmd.Dir = a.repo
	cmd.Env = append(os.Environ(), "GANNET_BIN="+a.bin, "GANNET_CONFIG="+a.conf,
		"VERSION="+testVersion, "ARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(debs) != 1 {
		t.Fatalf("nfpm made %v", debs)
	}
	return debs[0]
}

// server is a gannet process under test, with its log lines.
type server struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  []string
	done chan struct{} // closed when stderr ends
}

// start runs cmd (a gannet serve) and waits until it has logged every
// listener in names, returning their addresses; the process is stopped at
// cleanup.
func start(t *testing.T, cmd *exec.Cmd, names ...string) (*server, map[string]string) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	t.Cleanup(func() { s.stop(t) })
	addrs := make(chan [2]string, 16)
	listening := regexp.MustCompile(`(?:msg=listening server=(\S+) addr=(\S+))|(?:"msg":"listening","server":"([^"]+)","addr":"([^"]+)")`)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log = append(s.log, line)
			s.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				addrs <- [2]string{m[1] + m[3], m[2] + m[4]}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	got := map[string]string{}
	deadline := time.After(60 * time.Second) // a hang guard, not a measurement
	for len(got) < len(names) {
		select {
		case a := <-addrs:
			got[a[0]] = a[1]
		case <-s.done:
			t.Fatalf("gannet exited before listening on %v:\n%s", names, s.lines())
		case <-deadline:
			t.Fatalf("gannet did not listen on %v within a minute:\n%s", names, s.lines())
		}
	}
	return s, got
}

func (s *server) lines() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, "\n")
}

// stop ends the server with SIGTERM (a graceful shutdown) and waits for it.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("gannet did not shut down cleanly: %v\n%s", err, s.lines())
	}
}

// waitLog waits until a log line matches re (the server logs after it
// answers, so a client may be ahead of the log).
func (s *server) waitLog(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a hang guard
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, l := range s.log {
			if re.MatchString(l) {
				s.mu.Unlock()
				return l
			}
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line matches %s:\n%s", re, s.lines())
	return ""
}

// procIDs reads the real, effective, saved and filesystem uids and gids and
// the supplementary groups of a process from /proc.
func procIDs(t *testing.T, pid int) (uids, gids, groups string) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.Join(strings.Fields(v), " ")
		switch k {
		case "Uid":
			uids = v
		case "Gid":
			gids = v
		case "Groups":
			groups = v
		}
	}
	return uids, gids, groups
}
