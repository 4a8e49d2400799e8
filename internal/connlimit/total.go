package connlimit

import "math"

// fallbackTotal is the total limit when the descriptor limit is unknown.
const fallbackTotal = 4096

// TotalFor sizes the total connection limit for a descriptor limit of nofile:
// a reserve of a tenth (at least 128 descriptors) stays for everything that is
// not a client connection, and at least 16 connections are allowed.
func TotalFor(nofile uint64) int {
	n := min(nofile, math.MaxInt32)
	reserve := max(n/10, 128)
	if n <= reserve+16 {
		return 16
	}
	return int(n - reserve)
}
