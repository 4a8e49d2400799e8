//go:build !unix

package connlimit

// DefaultTotal is the total connection limit used when none is configured;
// without RLIMIT_NOFILE to size it from, a fixed number.
func DefaultTotal() int { return fallbackTotal }
