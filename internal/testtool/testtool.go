// Package testtool runs programs the tests need that are no Debian package:
// each is built from a Go module of its own under tools/NAME (so that its
// dependencies stay out of Gannet's go.mod), once, into the user cache
// directory, named after its pinned version. internal/store/s3blob/s3test
// (versitygw) and internal/acmetest (pebble) use it. A test never skips
// because such a program is missing: it is built on first use.
package testtool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Tool is one program built from tools/Dir.
type Tool struct {
	Dir     string // tools/Dir holds the module
	Name    string // the cached binary is Name-Version
	Version string // the version the module pins
	Package string // the main package to build
	Env     string // an environment variable naming a prebuilt binary
}

// Binary returns the path of the tool's binary: the one Env names, the
// cached build, or a new build.
func (t Tool) Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(t.Env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", t.Env, err)
		}
		return p, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(cache, "gannet-test", t.Name+"-"+t.Version)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	return out, t.Build(ctx, out)
}

// Build builds the tool into out, atomically: test binaries run in
// parallel may race, and the rename makes either one's result whole.
func (t Tool) Build(ctx context.Context, out string) error {
	mod, err := t.moduleDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, t.Package)
	cmd.Dir = mod
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("build %s: %v: %s", t.Name, err, Tail(string(b), 2000))
	}
	return os.Rename(tmp, out)
}

// moduleDir finds tools/Dir above the working directory (a test runs in
// its package's directory, inside the repository).
func (t Tool) moduleDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "tools", t.Dir)
		if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("testtool: tools/" + t.Dir + " not found above the working directory; set " + t.Env)
		}
		dir = up
	}
}

// Tail is the last n bytes of s, trimmed, for error messages.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// Output collects a tool's output for error messages, up to 1 MiB; it is
// safe for concurrent writes.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.b.Len() > 1<<20 {
		return len(p), nil
	}
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}
