package imapserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
)

// A command's work is abandoned when its client goes away: while a long
// command runs nobody reads the connection, so a client that sent a heavy
// SEARCH and hung up would otherwise have the server work on for nothing
// (issue 13, finding 8: ~11 CPU-seconds for one SEARCH). watchClient gives
// such a command a context that a timer cancels once the socket shows that
// the peer has shut down its side (or reset the connection). The timer only
// fires for commands that run longer than clientCheckEvery, so quick
// commands pay one timer and no system call.
//
// A peer that half-closes (shutdown(SHUT_WR)) after sending its commands is
// taken as gone too: IMAP gives half-close no meaning, and Dovecot ends a
// session on end of input likewise.

// clientCheckEvery is how often a running command looks at its socket.
const clientCheckEvery = 100 * time.Millisecond

// errClientGone cancels the context of a command whose client disconnected.
// It wraps io.EOF: the connection loop ends quietly, as on any disconnect.
var errClientGone = fmt.Errorf("client disconnected during the command: %w", io.EOF)

// watchClient returns a context for the current command's work, cancelled
// with cause errClientGone once the client has disconnected, and the
// function that ends the watch (call it when the command is done). Where the
// socket cannot be inspected (not TCP, or a wrapper that hides it) the
// context is never cancelled for that reason.
func (c *conn) watchClient() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	gone := peerGoneCheck(c.raw)
	if gone == nil {
		return ctx, func() { cancel(nil) }
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	mu.Lock()
	t = time.AfterFunc(clientCheckEvery, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if gone() {
			cancel(errClientGone)
			return
		}
		t.Reset(clientCheckEvery)
	})
	mu.Unlock()
	return ctx, func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
		cancel(nil)
	}
}

// clientGone turns the error of work done under a watchClient context into
// errClientGone when the client disconnected, so that the connection ends
// instead of answering a client that is not there.
func clientGone(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errClientGone) {
		return fmt.Errorf("%w (%v)", errClientGone, err)
	}
	return err
}

// socketOf finds the socket under wrappers that expose what they wrap, as
// TLS (NetConn) and the listener's connections (Unwrap) do.
func socketOf(nc net.Conn) syscall.RawConn {
	for {
		if u, ok := nc.(interface{ Unwrap() net.Conn }); ok {
			nc = u.Unwrap()
			continue
		}
		if u, ok := nc.(interface{ NetConn() net.Conn }); ok {
			nc = u.NetConn()
			continue
		}
		break
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
