// Package archtest holds the architecture test: it keeps the import graph in the
// shape docs/ARCHITECTURE.md draws (data flows from protocols through the store
// interface to the backends, the only packages that speak SQL; only the wiring
// names a backend; leaves never reach up).
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "gannet/"

// sqlDrivers may be imported only by the store backends (prefixes: a driver's
// sub-packages count as the driver).
var sqlDrivers = []string{"database/sql", "modernc.org/sqlite", "github.com/jackc/pgx", "github.com/lib/pq", "github.com/mattn/go-sqlite3"}

// backends are the store backends (with their sub-packages).
var backends = []string{mod + "internal/store/sqlstore", mod + "internal/store/pgstore"}

// wiring are the packages that may name a backend: internal/app, which opens
// the one the configuration chooses (OpenStore); internal/store/migrate,
// which moves an install from one backend to the other (`gannet migrate`)
// through their export and import APIs; and internal/store/testopen, the
// twin of internal/app for tests, which only _test.go files may import.
var wiring = []string{mod + "internal/app", mod + "internal/store/migrate", mod + "internal/store/testopen"}

// under reports whether path is one of roots or inside one of them.
func under(path string, roots []string) bool {
	for _, r := range roots {
		if path == r || strings.HasPrefix(path, r+"/") {
			return true
		}
	}
	return false
}

// leaves are the packages that must not import any application package.
var leaves = []string{
	"internal/smtp", "internal/imapwire", "internal/message", "internal/mailauth", "internal/dnsx",
	"internal/config", "internal/password", "internal/authlimit", "internal/sasl", "internal/connlimit",
	"internal/notify", "internal/store", "internal/store/blobstore", "internal/login", "internal/netserver",
	"internal/sieve",
}

// upper are application packages a leaf may never import.
var upper = []string{
	"internal/app", "internal/smtpserver", "internal/imapserver", "internal/pop3server", "internal/managesieve", "internal/webmail",
	"internal/delivery", "internal/queue", "internal/smtpclient", "internal/store/sqlstore", "internal/store/pgstore",
	"internal/store/testopen",
}

// goSMTP is emersion's go-smtp: its server side is no longer Gannet's (SMTP
// runs on internal/smtpserver's own loop), and since the package holds client
// and server together, only test support may depend on it.
const goSMTP = "github.com/emersion/go-smtp"

// goSMTPAllowed are the packages that may depend on go-smtp: test support only
// (a go-smtp server that internal/smtpclient's tests talk to).
var goSMTPAllowed = []string{mod + "internal/smtpclient/smtptest"}

type pkg struct {
	path    string
	imports []string // direct
	deps    []string // transitive
}

func list(t *testing.T) map[string]pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", "gannet/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkg{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			t.Fatalf("go list line %q", line)
		}
		pkgs[parts[0]] = pkg{path: parts[0], imports: strings.Fields(parts[1]), deps: strings.Fields(parts[2])}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

func has(list []string, p string) bool {
	for _, x := range list {
		if x == p {
			return true
		}
	}
	return false
}

// TestOnlyTheStoreSpeaksSQL: no package but a backend depends, even
// transitively, on a SQL driver (the wiring reaches one through the backend it
// opens, and cmd/ through the wiring). go list's Deps leave out test files.
func TestOnlyTheStoreSpeaksSQL(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		if under(p.path, backends) || under(p.path, wiring) || strings.HasPrefix(p.path, mod+"cmd/") {
			continue
		}
		for _, d := range p.deps {
			// database/sql/driver only declares interfaces (Valuer,
			// Scanner) that id libraries implement, such as google/uuid
			// under minio-go: it speaks no SQL.
			if under(d, sqlDrivers) && d != "database/sql/driver" {
				t.Errorf("%s depends on %s: only the store backends (%s) may speak SQL", p.path, d, strings.Join(backends, ", "))
				break // one is enough to say
			}
		}
	}
}

// TestOnlyTheWiringNamesABackend: outside the backends themselves, only the
// wiring imports a backend package; everything else sees store.Store
// (docs/ARCHITECTURE.md, "Layers"). Imports are the non-test ones: a test
// may open a backend for a backend-specific feature and says why.
func TestOnlyTheWiringNamesABackend(t *testing.T) {
	t.Parallel()
	pkgs := list(t)
	if _, ok := pkgs[mod+"internal/store/sqlstore"]; !ok {
		t.Fatal("internal/store/sqlstore not found")
	}
	for _, p := range pkgs {
		if under(p.path, backends) || under(p.path, wiring) {
			continue
		}
		for _, imp := range p.imports {
			if under(imp, backends) {
				t.Errorf("%s imports %s: only %s may name a backend; use store.Store", p.path, imp, strings.Join(wiring, " and "))
			}
		}
	}
}

// TestTestopenOnlyInTests: testopen opens a backend for tests; no program
// code may reach it (only _test.go files import it, which go list's Imports
// leave out).
func TestTestopenOnlyInTests(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		if has(p.imports, mod+"internal/store/testopen") {
			t.Errorf("%s imports internal/store/testopen: only _test.go files may", p.path)
		}
	}
}

func TestLeavesStayLeaves(t *testing.T) {
	t.Parallel()
	pkgs := list(t)
	for _, l := range leaves {
		p, ok := pkgs[mod+l]
		if !ok {
			continue // not written yet
		}
		for _, u := range upper {
			if has(p.deps, mod+u) {
				t.Errorf("leaf %s depends on %s", p.path, u)
			}
		}
	}
}

func TestOnlyCmdImportsApp(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		if has(p.imports, mod+"internal/app") && !strings.HasPrefix(p.path, mod+"cmd/") {
			t.Errorf("%s imports internal/app: only cmd/ may", p.path)
		}
	}
}

// TestNoGoSMTPServer: no package but test support depends on go-smtp, so no
// binary links its server; in particular internal/smtpserver's non-test
// imports (transitively) do not include it. go list's Deps leave out test
// files, which may still use go-smtp's client to talk to our server.
func TestNoGoSMTPServer(t *testing.T) {
	t.Parallel()
	pkgs := list(t)
	if _, ok := pkgs[mod+"internal/smtpserver"]; !ok {
		t.Fatalf("internal/smtpserver not found")
	}
	for _, p := range pkgs {
		if has(goSMTPAllowed, p.path) {
			continue
		}
		if has(p.deps, goSMTP) || has(p.imports, goSMTP) {
			t.Errorf("%s depends on %s: only test support may (the SMTP server is internal/smtpserver)", p.path, goSMTP)
		}
	}
}
