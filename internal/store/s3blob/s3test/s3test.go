// Package s3test runs a throwaway S3-compatible object store for tests:
// versitygw (the Versity S3 Gateway) on a free 127.0.0.1 port, over a
// temporary directory, from the Go module in tools/versitygw.
//
// The gateway binary is found, in this order: the path in
// GANNET_TEST_VERSITYGW (./test.sh builds it once and sets it); the cached
// build in the user cache directory; else it is built there now from
// tools/versitygw (a minute or two the first time). A test never skips
// because the gateway is missing.
package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/store/s3blob"
)

// EnvBinary names the environment variable with the gateway binary's path.
const EnvBinary = "GANNET_TEST_VERSITYGW"

// Version is the versitygw release tools/versitygw pins; the cached binary
// is named after it, so that a new pin builds anew.
const Version = "v1.8.0"

// Server is one running gateway.
type Server struct {
	Endpoint  string // 127.0.0.1:port
	AccessKey string
	SecretKey string

	cmd    *exec.Cmd
	dir    string
	exited chan struct{}
	out    *syncBuffer
	once   sync.Once
}

// Start starts a gateway and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := StartServer(context.Background())
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartServer starts a gateway; the caller stops it.
func StartServer(ctx context.Context) (*Server, error) {
	bin, err := Binary(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gannet-s3test-*")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 { // another process may take the free port before the gateway binds it
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s := &Server{
			Endpoint:  fmt.Sprintf("127.0.0.1:%d", port),
			AccessKey: "gannet-test",
			SecretKey: randomHex(16),
			dir:       dir,
			exited:    make(chan struct{}),
			out:       &syncBuffer{},
		}
		if lastErr = s.launch(ctx, bin); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (s *Server) launch(ctx context.Context, bin string) error {
	root := filepath.Join(s.dir, "root")
	sidecar := filepath.Join(s.dir, "meta") // no xattrs needed on the test's file system
	for _, d := range []string{root, sidecar} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	cmd := exec.Command(bin, "--port", s.Endpoint, "--quiet", "posix", "--sidecar", sidecar, root)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	s.cmd = cmd
	go func() { cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited at start: %s", tail(s.out.String()))
		case <-ctx.Done():
			s.Stop()
			return ctx.Err()
		default:
		}
		c, err := net.DialTimeout("tcp", s.Endpoint, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("versitygw did not listen on %s within 30 s: %s", s.Endpoint, tail(s.out.String()))
}

// Stop kills the gateway and removes its files.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			s.cmd.Process.Kill()
			<-s.exited
		}
		os.RemoveAll(s.dir)
	})
}

// Options returns client options for bucket/prefix on this gateway.
func (s *Server) Options(bucket, prefix string) s3blob.Options {
	return s3blob.Options{Endpoint: s.Endpoint, Region: "us-east-1", Bucket: bucket, Prefix: prefix,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, PlainHTTP: true}
}

// NewBucket creates a bucket with a fresh name and returns a client for it
// under prefix.
func (s *Server) NewBucket(t testing.TB, prefix string) *s3blob.Client {
	t.Helper()
	c, err := s3blob.New(s.Options("b"+randomHex(8), prefix))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background()); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	return c
}

// Binary returns the path of a versitygw binary, building it when needed.
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", EnvBinary, err)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, "gannet-test", "versitygw-"+Version)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := Build(ctx, out); err != nil {
		return "", err
	}
	return out, nil
}

// Build builds the gateway from tools/versitygw into out, atomically (go
// test runs packages in parallel: two builds may race, the rename makes
// either one's result whole).
func Build(ctx context.Context, out string) error {
	mod, err := toolsDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, "github.com/versity/versitygw/cmd/versitygw")
	cmd.Dir = mod
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build versitygw: %v: %s", err, tail(string(b)))
	}
	return os.Rename(tmp, out)
}

// toolsDir finds tools/versitygw above the working directory (a test runs
// in its package's directory, inside the repository).
func toolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "tools", "versitygw")
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("s3test: tools/versitygw not found above the working directory; set " + EnvBinary)
		}
		dir = up
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// syncBuffer collects the gateway's output for error messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 1<<20 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
