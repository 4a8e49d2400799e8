package pop3server

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// startPeer runs a second server over e's store, as another node sharing
// the store would, and returns an env whose dial reaches it.
func (e *env) startPeer() *env {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	srv := New(e.opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	e.t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			e.t.Errorf("peer Serve returned %v", err)
		}
	})
	peer := *e
	peer.srv, peer.addr = srv, ln.Addr().String()
	return &peer
}

// TestInUseAcrossServers: the maildrop lock is the store's, not one
// server's: a second server sharing the store refuses the login with
// [IN-USE] (RFC 2449 8.1.2) while the first holds the maildrop, and accepts
// it once the first session has quit.
func TestInUseAcrossServers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("one", "x"))
	peer := e.startPeer()
	first := e.login()
	first.ok("DELE 1")
	second := peer.dial()
	second.ok("USER " + alice)
	second.fail("PASS "+alicePw, "-ERR [IN-USE] ")
	// And the other way round: a session on the peer blocks the first server.
	first.ok("QUIT")
	second.ok("USER " + alice)
	if r := second.ok("PASS " + alicePw); !strings.Contains(r, "0 messages") {
		t.Errorf("after the first session's QUIT: %q", r)
	}
	third := e.dial()
	third.ok("USER " + alice)
	third.fail("PASS "+alicePw, "-ERR [IN-USE] ")
	second.ok("QUIT")
	third.ok("USER " + alice)
	third.ok("PASS " + alicePw)
	third.ok("QUIT")
}

// TestLockLostEndsSession: when the store loses the maildrop lock (here:
// the store closes, which ends every lock it holds), the session ends at
// once with -ERR and commits none of its DELE marks.
func TestLockLostEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("one", "x"))
	c := e.login()
	c.ok("DELE 1")
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	if l := c.line(); !strings.HasPrefix(l, "-ERR [SYS/TEMP] maildrop lock lost") {
		t.Fatalf("after the lock was lost: %q, want -ERR [SYS/TEMP] maildrop lock lost", l)
	}
	e.st = e.loc.Open(t)
	if uids := e.inboxUIDs(); len(uids) != 1 {
		t.Fatalf("INBOX after the lost session: %v, want the message kept (DELE not committed)", uids)
	}
}
