package pgtest

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// Main runs a test binary's tests against one cluster: it starts one (or takes the
// GANNET_TEST_PG_DSN server) into *c, runs m, stops it and returns the exit code.
// A cluster that cannot start fails the binary (code 1), it does not skip:
//
//	var pg *pgtest.Cluster // this test package's own variable
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, pgtest.Options{}, &pg)) }
func Main(m *testing.M, opts Options, c **Cluster) int {
	cl, err := StartOrShared(context.Background(), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*c = cl
	code := m.Run()
	if err := cl.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}
