package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable that points a whole test run at one
// existing server instead of a cluster per test binary (see the package comment).
const EnvDSN = "GANNET_TEST_PG_DSN"

// Options tunes a throwaway cluster. The zero value is a durable server.
type Options struct {
	// NoFsync turns off fsync, synchronous_commit and full_page_writes: several
	// times faster commits, for tests where durability across a machine crash is
	// not what is tested. Off by default, so the default server behaves like
	// production (a killed postgres process loses nothing either way).
	NoFsync bool
	// BinDir holds initdb and postgres; empty: PATH, then the newest
	// /usr/lib/postgresql/N/bin.
	BinDir string
	// StartTimeout bounds Start (initdb, then the server accepting connections);
	// 0: 2 minutes, generous because go test starts a cluster per test binary at
	// once on a machine that may have 2 cores.
	StartTimeout time.Duration
}

// Cluster is one PostgreSQL server: started by Start, or the shared server named
// by GANNET_TEST_PG_DSN (then Stop leaves it running).
type Cluster struct {
	base *url.URL // superuser connection; its path is replaced by DSN

	// Own server only (nil / empty when shared).
	dir      string
	cmd      *exec.Cmd
	exited   chan struct{} // closed once cmd.Wait returned
	stopOnce sync.Once
	stopErr  error
}

const (
	superuser   = "gannet"
	bindRetries = 5
)

// Start initialises a cluster in a new temporary directory and starts its server on
// a free 127.0.0.1 port, returning once it accepts connections. On error nothing is
// left running and the directory is removed.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	bin, err := binDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	removeStale(os.TempDir(), time.Now())
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c, err := start(ctx, bin, dir, cred, opts)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func start(ctx context.Context, bin, dir string, cred *syscall.Credential, opts Options) (*Cluster, error) {
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("pgtest: hand %s to uid %d: %w", dir, cred.Uid, err)
		}
	}
	data := filepath.Join(dir, "data")
	// --no-sync: the cluster is thrown away, and an fsync of every initdb file costs
	// seconds on a busy disk; the server itself still fsyncs unless opts.NoFsync.
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-A", "trust", "-U", superuser,
		"--encoding=UTF8", "--locale=C", "--no-sync")
	var out bytes.Buffer
	initdb.Stdout, initdb.Stderr = &out, &out
	initdb.Dir, initdb.Env, initdb.SysProcAttr = dir, serverEnv(), sysProcAttr(cred)
	if err := initdb.Run(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, tail(out.Bytes(), 2000))
	}

	logPath := filepath.Join(dir, "postgres.log")
	var lastErr error
	for range bindRetries {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		c, err := launch(ctx, bin, dir, logPath, port, cred, opts)
		if err == nil {
			return c, nil
		}
		lastErr = err
		// The port was free when chosen; another process (often another test
		// binary's cluster) took it before postgres bound it. Choose again.
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	return nil, lastErr
}

var errPortTaken = errors.New("port taken")

// launch starts postgres on port and waits until it accepts connections. The
// server is postgres itself, a direct child (not daemonised by pg_ctl), so the
// parent-death signal reaches it and Stop can wait for it to be gone.
func launch(ctx context.Context, bin, dir, logPath string, port int, cred *syscall.Credential, opts Options) (*Cluster, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close() // the child has its own copy
	logStart, _ := logf.Seek(0, 2)

	args := []string{
		"-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		// The socket lives in the cluster's own directory: no collision with another
		// cluster, and no need for /var/run/postgresql.
		"-c", "unix_socket_directories=" + dir,
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
		// Nothing replicates from a test server: less WAL to write.
		"-c", "wal_level=minimal",
		"-c", "max_wal_senders=0",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
	}
	if opts.NoFsync {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// No CommandContext: the server must outlive Start's context. Output goes to a
	// file, not a pipe, so Wait does not wait for backends that inherited it.
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir, cmd.Env, cmd.SysProcAttr = dir, serverEnv(), sysProcAttr(cred)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c := &Cluster{
		base: &url.URL{
			Scheme:   "postgres",
			User:     url.User(superuser),
			Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
			RawQuery: "sslmode=disable",
		},
		dir:    dir,
		cmd:    cmd,
		exited: make(chan struct{}),
	}
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()

	if err := c.waitReady(ctx); err != nil {
		c.kill()
		log := readFrom(logPath, logStart)
		if bytes.Contains(log, []byte("could not bind")) || bytes.Contains(log, []byte("could not create any TCP/IP sockets")) {
			return nil, fmt.Errorf("pgtest: postgres on port %d: %w", port, errPortTaken)
		}
		return nil, fmt.Errorf("pgtest: postgres on port %d: %w; server log:\n%s", port, err, tail(log, 4000))
	}
	return c, nil
}

// waitReady polls until the server answers a ping, exits, or ctx ends. A server
// still starting refuses connections ("the database system is starting up").
func (c *Cluster) waitReady(ctx context.Context) error {
	var last error
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("server exited during startup (%v)", c.cmd.ProcessState)
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(pctx, c.socketDSN())
		if err == nil {
			err = conn.Ping(pctx)
			_ = conn.Close(pctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not accepting connections: %w (last attempt: %v)", ctx.Err(), last)
		case <-c.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// socketDSN reaches the server through the Unix socket in its own directory. The
// readiness check uses it, not TCP: if another process took our port, a TCP ping
// could be answered by that other server (another test binary's cluster accepts the
// same user) while ours is failing. postgres creates the socket only after it has
// bound its TCP port, so an answer here also means the port is ours.
func (c *Cluster) socketDSN() string {
	return fmt.Sprintf("host='%s' port=%s user=%s dbname=postgres sslmode=disable",
		c.dir, c.base.Port(), superuser)
}

// StartOrShared returns the server named by GANNET_TEST_PG_DSN when that is set
// (after checking it answers), else Start(ctx, opts).
func StartOrShared(ctx context.Context, opts Options) (*Cluster, error) {
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		return Start(ctx, opts)
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("pgtest: %s must be a postgres:// URL", EnvDSN)
	}
	c := &Cluster{base: u}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(pctx, dsn)
	if err != nil {
		// The DSN may hold a password: name the host only.
		return nil, fmt.Errorf("pgtest: connect to %s server at %s: %w", EnvDSN, u.Host, err)
	}
	_ = conn.Close(pctx)
	return c, nil
}

// DSN returns the URL of a superuser connection to database db, e.g.
// postgres://gannet@127.0.0.1:PORT/db?sslmode=disable.
func (c *Cluster) DSN(db string) string {
	u := *c.base
	u.Path = "/" + db
	u.RawPath = ""
	return u.String()
}

// Dir returns the cluster's directory ("" for a shared server): data, socket, log.
func (c *Cluster) Dir() string { return c.dir }

// PID returns the server's process id (0 for a shared server), for tests that
// check it is gone.
func (c *Cluster) PID() int {
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Stop shuts the server down and removes its directory; for a shared server it
// does nothing. It is safe to call more than once.
func (c *Cluster) Stop() error {
	if c.cmd == nil {
		return nil
	}
	c.stopOnce.Do(func() {
		// SIGINT is PostgreSQL's fast shutdown: end sessions, checkpoint, exit.
		// (SIGTERM would be smart shutdown, waiting for every client to leave.) The
		// postmaster exits only after all its backends have, so once it is reaped
		// no process of the cluster is left.
		_ = c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(30 * time.Second):
			c.kill()
		}
		c.stopErr = os.RemoveAll(c.dir)
		if c.stopErr != nil {
			c.stopErr = fmt.Errorf("pgtest: remove cluster: %w", c.stopErr)
		}
	})
	return c.stopErr
}

// kill ends the server at once and waits until it is reaped. Backends notice the
// postmaster's death and exit on their own.
func (c *Cluster) kill() {
	_ = c.cmd.Process.Kill()
	<-c.exited
}

// freePort asks the kernel for a free loopback port. It is free only until someone
// else binds it; launch retries when postgres finds it taken.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: choose a port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// serverEnv is our environment without PG* variables (PGDATA, PGPORT, ... would
// redirect initdb or postgres) and with the C locale, so messages are English and
// the log can be matched.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LC_ALL=C")
}

func readFrom(path string, off int64) []byte {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return nil
	}
	return b[off:]
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
