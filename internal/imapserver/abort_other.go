//go:build !linux

package imapserver

import "net"

// peerGoneCheck is not implemented outside Linux (it needs POLLRDHUP): a
// command there runs to its end when its client disconnects.
func peerGoneCheck(net.Conn) func() bool { return nil }
