//go:build !linux

package s3test

import "syscall"

// sysProcAttr: no parent-death signal outside Linux; Stop kills the gateway.
func sysProcAttr() *syscall.SysProcAttr { return nil }
