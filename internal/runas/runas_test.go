package runas

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func fakeLookup(users map[string]int) func(string) (*Identity, error) {
	return func(name string) (*Identity, error) {
		uid, ok := users[name]
		if !ok {
			return nil, fmt.Errorf("user %q: unknown user", name)
		}
		return &Identity{Name: name, UID: uid, GID: uid, Groups: []int{uid}}, nil
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	lookup := fakeLookup(map[string]int{"gannet": 120, "root": 0})
	for _, tc := range []struct {
		name      string
		euid      int
		user      string
		allowRoot bool
		want      string // "switch", "check", "root", "stay" or an error fragment
	}{
		{"root without user refused", 0, "", false, "refusing to run as root"},
		{"root without user allowed", 0, "", true, "root"},
		{"root with user switches", 0, "gannet", false, "switch"},
		{"root with user switches even if allowed", 0, "gannet", true, "switch"},
		{"user root refused", 0, "root", false, "refusing to run as root"},
		{"user root allowed", 0, "root", true, "root"},
		{"unknown user", 0, "nosuch", false, "unknown user"},
		{"unprivileged, no user", 1000, "", false, "stay"},
		{"the configured user", 120, "gannet", false, "check"},
		{"another user", 1000, "gannet", false, "running as uid 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decide(tc.euid, tc.user, tc.allowRoot, lookup)
			got := "stay"
			switch {
			case err != nil:
				got = err.Error()
			case p.Switch != nil:
				got = "switch"
				if p.Switch.UID != 120 {
					t.Errorf("switch to uid %d", p.Switch.UID)
				}
			case p.Check != nil:
				got = "check"
			case p.Root:
				got = "root"
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("Decide(%d, %q, %v) = %q, want %q", tc.euid, tc.user, tc.allowRoot, got, tc.want)
			}
			if strings.Contains(tc.want, "refusing") && !errors.Is(err, ErrRoot) {
				t.Errorf("error %v is not ErrRoot", err)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	t.Parallel()
	id, err := Lookup("root")
	if err != nil {
		t.Fatal(err)
	}
	if id.UID != 0 || id.GID != 0 || id.Name != "root" {
		t.Errorf("root = %+v", id)
	}
	if id, err := Lookup("0"); err != nil || id.Name != "root" {
		t.Errorf("Lookup(\"0\") = %+v, %v", id, err)
	}
	if _, err := Lookup("no-such-user-here"); err == nil {
		t.Error("an unknown user was found")
	}
}
