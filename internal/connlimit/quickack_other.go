//go:build !linux

package connlimit

import "net"

// QuickAck is a no-op where TCP_QUICKACK does not exist (see quickack_linux.go).
func QuickAck(c net.Conn) {}
