// Package pgtest starts throwaway PostgreSQL servers for tests: the harness behind
// the PostgreSQL half of the store contract suite and of the protocol suites
// (issue 14, section 1). It is imported only by _test files and test openers.
//
// A Cluster is a real PostgreSQL server from Debian's postgresql package (initdb and
// postgres from PATH or /usr/lib/postgresql/N/bin, newest N first), initialised in
// its own temporary directory and listening on 127.0.0.1 on a free port and on a Unix
// socket in that directory. There is no container runtime and no daemon: the
// postgres process is a direct child of the test binary, started with a parent-death
// signal (SIGKILL) on Linux, so a test binary that crashes or is killed never leaves a
// server behind. When the test binary runs as root (CI does), initdb and postgres
// refuse to run as root, so they run as the postgres system user that Debian's
// package creates (nobody when it is absent) and the directory is chowned to it.
//
// Invariants:
//   - Each Cluster has its own directory and port, so the test binaries that go test
//     runs in parallel each start their own server without colliding; a port taken
//     between choosing it and binding it is retried with another.
//   - Each test gets its own database (Cluster.NewDatabase), dropped WITH (FORCE)
//     when the test ends, so tests of one binary run in parallel on one server.
//   - The superuser is gannet with trust authentication on loopback only; nothing
//     here is meant for anything but tests.
//   - Missing binaries are an error that says to install Debian's postgresql
//     package (./test.sh does): tests fail, they never skip.
//
// GANNET_TEST_PG_DSN: when set, to the URL of a superuser connection to an existing
// server (postgres://user:password@host:port/postgres?sslmode=disable), StartOrShared
// and Main use that server instead of starting one, and Stop leaves it running. A
// whole test run can then share one server (or run against another
// PostgreSQL-compatible engine); each test still gets its own database, named
// gannet_<test>_<random>.
//
// The package keeps no package-level mutable state (docs/ARCHITECTURE.md, house
// rule 2): a test package keeps its *Cluster in its own variable, set by Main.
package pgtest
