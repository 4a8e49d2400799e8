// Package runas decides which user `gannet serve` (and an admin command given
// --config) runs as, and switches to it (docs/ARCHITECTURE.md, "Running
// unprivileged").
//
// The server needs root for one thing only: binding ports below 1024. Started
// as root with the config key user set, it binds its listeners, switches to
// that user's uid, gid and supplementary groups, and only then opens the store,
// so every file it creates belongs to that user and nothing that parses mail
// ever runs as root. Started as root without user, it refuses unless
// allow_root (or --allow-root) says otherwise. Started as another user (the
// systemd unit runs it as "gannet" with CAP_NET_BIND_SERVICE), that user must
// be the configured one, if one is configured.
//
// Invariants:
//   - Decide is pure: it takes the effective uid and a lookup function, so
//     every branch is tested without root.
//   - Switch changes every thread of the process: since Go 1.16 the
//     syscall package's Setuid, Setgid and Setgroups apply to all threads on
//     Linux (they are run on each through the runtime's allThreadsSyscall).
//     It then checks that the switch took and that root cannot be regained.
package runas

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// Identity is a user to run as.
type Identity struct {
	Name     string
	UID, GID int
	// Groups are the supplementary groups (from /etc/group), which include
	// GID.
	Groups []int
}

// Lookup finds a user by name, or by numeric uid, in the system's user
// database (/etc/passwd and /etc/group: Gannet is built without cgo, so NSS
// modules such as LDAP are not consulted).
func Lookup(name string) (*Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
		if u, err = user.LookupId(name); err != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
	}
	id := &Identity{Name: u.Username}
	if id.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	if id.GID, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		gids = nil // no /etc/group entry: the primary group alone
	}
	id.Groups = []int{id.GID}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err == nil && n != id.GID {
			id.Groups = append(id.Groups, n)
		}
	}
	return id, nil
}

// ErrRoot is Decide's refusal to run as root.
var ErrRoot = errors.New(`refusing to run as root: set user = "gannet" in the config (the server binds its ports as root, then runs as that user), ` +
	`or start it as an unprivileged user with CAP_NET_BIND_SERVICE (the systemd unit does), or pass --allow-root`)

// Plan is what Decide chose.
type Plan struct {
	// Switch is the user to switch to once the listeners are bound; nil =
	// stay as started.
	Switch *Identity
	// Check is the configured user when the process already runs as it
	// (data_dir must belong to it); nil when no user is configured.
	Check *Identity
	// Root is set when the process stays root because that is allowed.
	Root bool
}

// Decide chooses from the effective uid, the config key user and whether
// root is allowed.
func Decide(euid int, userName string, allowRoot bool, lookup func(string) (*Identity, error)) (Plan, error) {
	if userName == "" {
		if euid == 0 {
			if !allowRoot {
				return Plan{}, ErrRoot
			}
			return Plan{Root: true}, nil
		}
		return Plan{}, nil
	}
	id, err := lookup(userName)
	if err != nil {
		return Plan{}, err
	}
	switch {
	case id.UID == 0 && euid == 0:
		if !allowRoot {
			return Plan{}, fmt.Errorf("user %q is root: %w", userName, ErrRoot)
		}
		return Plan{Root: true}, nil
	case euid == 0:
		return Plan{Switch: id}, nil
	case euid != id.UID:
		return Plan{}, fmt.Errorf("running as uid %d, but the config says user = %q (uid %d): start as root (then the server switches after binding its ports) or as that user",
			euid, userName, id.UID)
	}
	return Plan{Check: id}, nil
}
