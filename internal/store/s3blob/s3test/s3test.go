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
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gannet/internal/store/s3blob"
	"gannet/internal/testtool"
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
	out    *testtool.Output
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
			out:       &testtool.Output{},
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
			return fmt.Errorf("versitygw exited at start: %s", testtool.Tail(s.out.String(), 2000))
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
	return fmt.Errorf("versitygw did not listen on %s within 30 s: %s", s.Endpoint, testtool.Tail(s.out.String(), 2000))
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
func Binary(ctx context.Context) (string, error) { return tool().Binary(ctx) }

// tool is versitygw's module in tools/versitygw, built once into the user cache.
func tool() testtool.Tool {
	return testtool.Tool{Dir: "versitygw", Name: "versitygw", Version: Version,
		Package: "github.com/versity/versitygw/cmd/versitygw", Env: EnvBinary}
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
