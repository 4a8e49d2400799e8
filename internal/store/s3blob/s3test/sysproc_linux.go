package s3test

import "syscall"

// sysProcAttr has the kernel kill the gateway when the test binary dies, so
// that no gateway outlives a crashed or killed test run (prctl(2)).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
