package imapserver

import (
	"net"

	"golang.org/x/sys/unix"
)

// peerGoneCheck returns a non-blocking test of whether the peer of nc has
// shut down its sending side or reset the connection: poll(2) with
// POLLRDHUP, which reports the FIN even when unread data (pipelined
// commands, a TLS close_notify) is still queued before it. It reads
// nothing, so the connection's reader is undisturbed. nil if nc has no
// socket to look at.
func peerGoneCheck(nc net.Conn) func() bool {
	raw := socketOf(nc)
	if raw == nil {
		return nil
	}
	return func() bool {
		gone := false
		raw.Control(func(fd uintptr) {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
			n, err := unix.Poll(fds, 0)
			gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
		})
		return gone
	}
}
