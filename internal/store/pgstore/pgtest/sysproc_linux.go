package pgtest

import "syscall"

// sysProcAttr runs a server process as cred (nil: as we are) and has the kernel
// SIGKILL it when the test binary dies, so no server outlives a crashed or killed
// test run. Go sets the parent-death signal after switching credentials, so the
// switch does not clear it (prctl(2)). The signal follows the OS thread that
// forked; Go only ends threads whose goroutine locked them and exited, which the
// starting goroutine never is.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
}
