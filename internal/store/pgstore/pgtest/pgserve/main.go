// Command pgserve starts one throwaway PostgreSQL server for a whole test run
// (./test.sh runs the protocol suites on PostgreSQL through it): it prints
// the superuser URL on its first line of output, then serves until its
// standard input closes or it is signalled, and removes the server and its
// directory on the way out. The server dies with pgserve (pgtest starts it
// with a parent-death signal), so a killed test run leaves nothing behind.
//
// Usage: go run ./internal/store/pgstore/pgtest/pgserve [-nofsync]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"gannet/internal/store/pgstore/pgtest"
)

func main() {
	noFsync := flag.Bool("nofsync", false, "run the server with fsync off (faster; for tests that do not test durability)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := pgtest.Start(ctx, pgtest.Options{NoFsync: *noFsync})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgserve:", err)
		os.Exit(1)
	}
	fmt.Println(c.DSN("postgres"))
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	if err := c.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgserve:", err)
		os.Exit(1)
	}
}
