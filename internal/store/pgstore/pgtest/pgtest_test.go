package pgtest_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store/pgstore/pgtest"
)

// helperEnv makes the test binary, run again by TestServerDiesWithTestBinary, start a
// cluster, print its pid and directory, and wait to be killed.
const helperEnv = "GANNET_PGTEST_HELPER"

var pg *pgtest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run()) // only TestHelperServer runs; it starts its own cluster
	}
	os.Exit(pgtest.Main(m, pgtest.Options{NoFsync: true}, &pg))
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	return conn
}

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn := connect(t, pg.DSN("postgres"))
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// TestDatabases: two databases of one cluster are separate, take writes and reads
// through pgx, and are dropped when their test ends even with a session still open.
func TestDatabases(t *testing.T) {
	t.Parallel()
	var names []string
	var open []*pgx.Conn
	t.Run("use", func(t *testing.T) {
		a, b := pg.NewDatabase(t), pg.NewDatabase(t)
		if a == b {
			t.Fatalf("two databases share the DSN %s", a)
		}
		names = []string{dbName(t, a), dbName(t, b)}
		ca, cb := connect(t, a), connect(t, b)
		// Left open on purpose: the drop must end these sessions (WITH (FORCE)).
		open = []*pgx.Conn{ca, cb}
		for i, c := range open {
			if _, err := c.Exec(t.Context(), "CREATE TABLE m (id int PRIMARY KEY, body text)"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(t.Context(), "INSERT INTO m VALUES (1, $1)", fmt.Sprintf("db %d ✓", i)); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range open {
			var body string
			if err := c.QueryRow(t.Context(), "SELECT body FROM m WHERE id = 1").Scan(&body); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("db %d ✓", i); body != want {
				t.Errorf("database %d holds %q, want %q", i, body, want)
			}
		}
		for _, n := range names {
			if !databaseExists(t, n) {
				t.Errorf("database %s not in pg_database", n)
			}
		}
	})
	for _, n := range names {
		if databaseExists(t, n) {
			t.Errorf("database %s still exists after its test ended", n)
		}
	}
	for _, c := range open {
		if err := c.Ping(t.Context()); err == nil {
			t.Error("a session of a dropped database still answers")
		}
		_ = c.Close(context.Background())
	}
}

func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// waitGone polls, since a backend may take a moment to notice its postmaster left.
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still exists", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStartStop: an own cluster answers on its DSN, and Stop leaves neither its
// server nor a backend serving an open session behind, and removes its directory.
func TestStartStop(t *testing.T) {
	t.Parallel()
	for _, opts := range []pgtest.Options{{}, {NoFsync: true}} {
		t.Run(fmt.Sprintf("NoFsync=%v", opts.NoFsync), func(t *testing.T) {
			t0 := time.Now()
			c, err := pgtest.Start(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			started := time.Since(t0)
			dir, pid := c.Dir(), c.PID()
			if _, err := os.Stat(dir); err != nil {
				t.Fatalf("cluster directory: %v", err)
			}
			conn := connect(t, c.DSN("postgres"))
			var backend int
			var fsync string
			if err := conn.QueryRow(t.Context(), "SELECT pg_backend_pid(), current_setting('fsync')").Scan(&backend, &fsync); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]string{false: "on", true: "off"}[opts.NoFsync]; fsync != want {
				t.Errorf("fsync = %s, want %s", fsync, want)
			}
			t1 := time.Now()
			if err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			t.Logf("Start %v, Stop %v (session open)", started.Round(time.Millisecond), time.Since(t1).Round(time.Millisecond))
			if !processGone(pid) {
				t.Errorf("server pid %d still exists after Stop", pid)
			}
			waitGone(t, backend, "backend")
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("cluster directory after Stop: %v", err)
			}
			if err := c.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
			_ = conn.Close(context.Background())
		})
	}
}

// TestParallelStarts: clusters started at once (as go test's parallel test
// binaries do) get distinct ports and directories and all work.
func TestParallelStarts(t *testing.T) {
	t.Parallel()
	const n = 3
	clusters := make([]*pgtest.Cluster, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { clusters[i], errs[i] = pgtest.Start(t.Context(), pgtest.Options{NoFsync: true}) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, c := range clusters {
		if errs[i] != nil {
			t.Errorf("cluster %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { _ = c.Stop() })
		dsn := c.DSN("postgres")
		if seen[dsn] || seen[c.Dir()] {
			t.Errorf("cluster %d shares %s or %s", i, dsn, c.Dir())
		}
		seen[dsn], seen[c.Dir()] = true, true
		conn := connect(t, dsn)
		var dir string
		if err := conn.QueryRow(t.Context(), "SELECT current_setting('data_directory')").Scan(&dir); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(dir, c.Dir()) {
			t.Errorf("cluster %d: DSN %s reaches the server of %s", i, dsn, dir)
		}
		_ = conn.Close(context.Background())
	}
}

// TestServerDiesWithTestBinary: a test binary that is SIGKILLed (no Stop, no
// cleanup) takes its server with it, through the parent-death signal.
func TestServerDiesWithTestBinary(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperServer$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "cluster" {
			pid, _ = strconv.Atoi(f[1])
			dir = f[2]
			break
		}
	}
	if pid == 0 {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("helper printed no cluster line")
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // the killed helper cannot
	if processGone(pid) {
		t.Fatalf("server pid %d gone before the helper was killed", pid)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitGone(t, pid, "server of a killed test binary")
}

// TestHelperServer is the killed test binary of TestServerDiesWithTestBinary.
func TestHelperServer(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("helper process for TestServerDiesWithTestBinary")
	}
	c, err := pgtest.Start(t.Context(), pgtest.Options{NoFsync: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("cluster %d %s\n", c.PID(), c.Dir())
	time.Sleep(time.Minute) // killed long before
	_ = c.Stop()
}

// TestMissingBinaries: no PostgreSQL is an error that says what to install.
func TestMissingBinaries(t *testing.T) {
	t.Parallel()
	_, err := pgtest.Start(t.Context(), pgtest.Options{BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "postgresql package") {
		t.Fatalf("Start without binaries: %v, want an error naming the postgresql package", err)
	}
}
