// Package archtest holds the architecture test: it keeps the import graph in the
// shape docs/ARCHITECTURE.md draws (data flows from protocols through the store interface to
// the one SQL package; leaves never reach up).
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "gannet/"

// sqlOnly may be imported only by the store backend.
var sqlOnly = []string{"database/sql", "modernc.org/sqlite", "github.com/jackc/pgx/v5", mod + "internal/store/sqlstore"}

// leaves are the packages that must not import any application package.
var leaves = []string{
	"internal/smtp", "internal/imapwire", "internal/message", "internal/mailauth", "internal/dnsx",
	"internal/config", "internal/password", "internal/authlimit", "internal/sasl", "internal/connlimit",
	"internal/notify", "internal/store", "internal/store/blobstore", "internal/login", "internal/netserver",
}

// upper are application packages a leaf may never import.
var upper = []string{
	"internal/app", "internal/smtpserver", "internal/imapserver", "internal/pop3server", "internal/webmail",
	"internal/delivery", "internal/queue", "internal/smtpclient", "internal/store/sqlstore",
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

func TestOnlyTheStoreSpeaksSQL(t *testing.T) {
	t.Parallel()
	for _, p := range list(t) {
		if strings.HasPrefix(p.path, mod+"internal/store/sqlstore") || p.path == mod+"internal/app" || strings.HasPrefix(p.path, mod+"cmd/") {
			continue // the backend itself, and the wiring that opens it
		}
		for _, s := range sqlOnly {
			if has(p.deps, s) {
				t.Errorf("%s depends on %s: only internal/store/sqlstore may speak SQL", p.path, s)
			}
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
