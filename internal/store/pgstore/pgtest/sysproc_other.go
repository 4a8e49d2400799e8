//go:build unix && !linux

package pgtest

import "syscall"

// sysProcAttr runs a server process as cred (nil: as we are). Only Linux has a
// parent-death signal; elsewhere a killed test binary can leave its server behind
// until the machine's temp directory is cleaned.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred}
}
