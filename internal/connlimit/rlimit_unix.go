//go:build unix

package connlimit

import "syscall"

// DefaultTotal is the total connection limit used when none is configured:
// the process's file-descriptor limit (RLIMIT_NOFILE, whose soft limit the Go
// runtime raises to the hard one at start) minus a reserve for the store, its
// WAL, message files, outbound deliveries and DNS. Without it the descriptors
// run out first, and then every protocol stops accepting at once.
func DefaultTotal() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return fallbackTotal
	}
	return TotalFor(rl.Cur)
}
