package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// installHint is the end of every "cannot run PostgreSQL" error: the fix, not a skip.
const installHint = "install Debian's postgresql package (apt-get install postgresql; ./test.sh does this when run as root)"

// binDir returns the directory holding both initdb and postgres: dir when given,
// else the one initdb in PATH resolves to (a user's explicit choice), else the newest
// /usr/lib/postgresql/N/bin, where Debian installs the server binaries (they are not
// in PATH there; /usr/bin only has the client wrappers).
func binDir(dir string) (string, error) {
	if dir != "" {
		if !hasServer(dir) {
			return "", fmt.Errorf("pgtest: no initdb and postgres in %s: %s", dir, installHint)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && hasServer(filepath.Dir(real)) {
			return filepath.Dir(real), nil
		}
		if hasServer(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first: "15" < "16" < "9.6" as strings, so compare numbers.
	slices.SortFunc(dirs, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, d := range dirs {
		if hasServer(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: PostgreSQL server binaries (initdb, postgres) not found in PATH or /usr/lib/postgresql/*/bin: %s", installHint)
}

func hasServer(dir string) bool {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// compareVersions orders "9.6" < "15" < "16.2" by their numeric parts.
func compareVersions(a, b string) int {
	na, nb := versionParts(a), versionParts(b)
	return slices.Compare(na, nb)
}

func versionParts(v string) []int {
	var parts []int
	n, seen := 0, false
	for _, r := range v + "." {
		switch {
		case r >= '0' && r <= '9':
			n, seen = n*10+int(r-'0'), true
		case seen:
			parts, n, seen = append(parts, n), 0, false
		}
	}
	return parts
}

// serverUser returns whom initdb and postgres run as: nil (ourselves) unless we are
// root, which both refuse ("cannot be run as root"); then Debian's postgres system
// user, or nobody when the package did not create it.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", name, err))
			continue
		}
		// Groups empty and NoSetGroups false: root's supplementary groups are dropped.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("pgtest: running as root and no unprivileged user to run PostgreSQL as: %w", errors.Join(errs...))
}
