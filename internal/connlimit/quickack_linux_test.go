package connlimit

import (
	"bufio"
	"net"
	"syscall"
	"testing"
)

// quickAckState reads TCP_QUICKACK: 1 while the socket acknowledges at once,
// 0 in interactive ("pingpong") mode, where ACKs wait to ride on replies.
func quickAckState(t *testing.T, c net.Conn) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK) })
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// wrapped stands for a TLS connection over ours.
type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// TestQuickAck: after a few request/reply exchanges the server socket delays
// its ACKs; QuickAck, reached through Unwrap and NetConn wrappers, switches
// that off.
func TestQuickAck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sr, cr := bufio.NewReader(srv), bufio.NewReader(client)
	for range 20 {
		client.Write([]byte("ping\r\n"))
		if _, err := sr.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		srv.Write([]byte("pong\r\n"))
		if _, err := cr.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if got := quickAckState(t, srv); got != 0 {
		t.Fatalf("after request/reply exchanges TCP_QUICKACK = %d, want 0 (interactive mode)", got)
	}
	QuickAck(wrapped{&Conn{Conn: srv}})
	if got := quickAckState(t, srv); got != 1 {
		t.Fatalf("after QuickAck TCP_QUICKACK = %d, want 1", got)
	}
}
