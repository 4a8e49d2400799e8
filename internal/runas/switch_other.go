//go:build !linux

package runas

import "errors"

// errNotLinux: switching users after binding is implemented for Linux, the
// platform Gannet is released for.
var errNotLinux = errors.New("config key user: switching users is supported on Linux only")

// PrepareDir is Linux only.
func PrepareDir(dir string, id *Identity) error { return errNotLinux }

// CheckDir is Linux only.
func CheckDir(dir string, id *Identity) error { return errNotLinux }

// Switch is Linux only.
func Switch(id *Identity) error { return errNotLinux }
