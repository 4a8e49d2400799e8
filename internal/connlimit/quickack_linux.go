package connlimit

import (
	"net"
	"syscall"
)

// QuickAck asks the kernel to acknowledge the next segments from the peer at
// once instead of delaying the ACK (Linux TCP_QUICKACK, which lasts until the
// kernel's own heuristics switch back to delayed ACKs).
//
// Why: a client that sends a literal and the CRLF ending its command in two
// writes (Python's imaplib does, and so do other clients) has its second,
// small write held by Nagle's algorithm until the first is acknowledged, and
// a server in interactive mode delays that ACK by up to 40 ms: every APPEND
// took 43 ms. Servers call this right after a continuation request ("+ "),
// when the client is about to send data that gets no reply before it ends.
func QuickAck(c net.Conn) {
	for {
		if u, ok := c.(interface{ Unwrap() net.Conn }); ok {
			c = u.Unwrap()
			continue
		}
		if u, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = u.NetConn()
			continue
		}
		break
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
