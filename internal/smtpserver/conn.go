package smtpserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/delivery"
	"gannet/internal/netserver"
	"gannet/internal/smtp"
	"gannet/internal/store"
)

// Buffer sizes per connection. The reader is the unit of network reads while
// a message streams in; longer lines are assembled from several. Every idle
// connection holds both, so they stay small: 8 KiB reads a typical message in
// a few system calls, and a 4 KiB writer holds any reply (EHLO's is the
// longest, about 200 octets).
const (
	readBufSize  = 8 << 10
	writeBufSize = 4 << 10
)

// errLineTooLong: a line longer than MaxLineLength.
var errLineTooLong = errors.New("line too long")

// conn is one client connection and its SMTP session; it is the
// netserver.Handler of the connection.
//
// Only the connection's goroutine touches the session fields; mu guards what
// Shutdown and EndAccount reach from other goroutines (Interrupt, End).
type conn struct {
	s      *Server
	acc    *netserver.Accepted
	raw    net.Conn // the accepted connection, below any TLS of ours; holds the limiter slot
	nc     net.Conn // raw, or the TLS connection over it
	br     *bufio.Reader
	bw     *bufio.Writer
	ip     netip.Addr // the client's (after a PROXY header)
	log    *slog.Logger
	ctx    context.Context
	tls    *tls.ConnectionState // nil without TLS
	line   []byte               // a command line longer than br's buffer is assembled here
	nr     netReader
	sess   session
	closed bool // by the connection's goroutine, after QUIT or a fatal error
	// handshaking: a STARTTLS handshake is running; a plain-text reply now
	// would be garbage to the client.
	handshaking bool
	// authStart is when the running AUTH began (for netserver.LoggedIn).
	authStart time.Time

	mu       sync.Mutex
	busy     bool        // handling a command: Shutdown lets it finish
	draining bool        // Shutdown: end at the next pause between commands
	ended    *smtp.Reply // EndAccount: end now, with this reply
}

// session is the SMTP state between commands.
type session struct {
	helo      string
	esmtp     bool           // EHLO, not HELO
	account   *store.Account // set by a successful AUTH
	tx        *transaction   // nil between transactions
	badCmds   int            // unknown or malformed commands
	badRcpts  int            // refused recipients, for the harvesting limits
	bdatBytes int64
}

// transaction is the state of one MAIL ... DATA sequence.
type transaction struct {
	from   smtp.Address
	params smtp.MailParams
	rcpts  []*delivery.Recipient
	// bdat holds the chunks received so far (RFC 3030), nil before the first.
	bdat *bdatBuf
	// limitDSN: an unauthenticated client on the MX gave a return path
	// outside our domains, which anyone can forge. So that the server cannot
	// be made to mail a copy of what it received to any address
	// (backscatter), NOTIFY=SUCCESS is dropped and RET is HDRS (RFC 3461 4.1
	// and 4.3 leave both to the server's policy).
	limitDSN bool
}

// netReader is what br reads from: before it waits for the network it sends
// the replies still buffered (RFC 2920 3.1: the client has nothing more
// pipelined), and while a message streams in it moves the read deadline on.
type netReader struct {
	c *conn
	// data: the read deadline slides (Timeout from each read) up to dataEnd.
	data    bool
	dataEnd time.Time
	moved   time.Time
	// cmdDeadline: the deadline of the command wait, set at its first read.
	cmdDeadline time.Time
	cmdSet      bool
}

func (r *netReader) Read(p []byte) (int, error) {
	c := r.c
	if c.bw.Buffered() > 0 {
		if err := c.flush(); err != nil {
			return 0, err
		}
	}
	if r.data {
		// Moving the deadline costs a little; doing it when a tenth of the
		// idle time has passed keeps the bound within 10% of Timeout.
		if now := time.Now(); now.Sub(r.moved) > c.s.opts.Timeout/10 {
			dl := now.Add(c.s.opts.Timeout)
			if dl.After(r.dataEnd) {
				dl = r.dataEnd
			}
			c.setReadDeadline(dl)
			r.moved = now
		}
	} else if !r.cmdSet {
		c.setReadDeadline(r.cmdDeadline)
		r.cmdSet = true
	}
	return c.nc.Read(p)
}

// startCommandWait begins waiting for a command line: the whole line must
// arrive within Timeout from now, however it dribbles in.
func (c *conn) startCommandWait() {
	c.nr.data = false
	c.nr.cmdDeadline = time.Now().Add(c.s.opts.Timeout)
	c.nr.cmdSet = false
}

// startData begins reading message data that may take up to DataTimeout.
func (c *conn) startData() {
	c.nr.data = true
	c.nr.dataEnd = time.Now().Add(c.s.opts.DataTimeout)
	c.nr.moved = time.Time{}
}

// past is a read deadline that has already passed.
func past() time.Time { return time.Unix(1, 0) }

// setReadDeadline sets the deadline unless the connection is to end: then
// reads fail at once.
func (c *conn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended != nil || (c.draining && !c.busy) {
		t = past()
	}
	c.raw.SetReadDeadline(t)
}

// newConn makes the handler of a connection netserver accepted (and, under
// implicit TLS, ran the handshake of).
func (s *Server) newConn(a *netserver.Accepted) *conn {
	c := &conn{s: s, acc: a, raw: a.Raw, nc: a.Conn, ctx: a.Ctx}
	c.ip, _ = connlimit.AddrIP(a.Raw.RemoteAddr())
	c.log = s.log.With("cid", a.ID, "remote", a.Raw.RemoteAddr().String())
	if a.TLS {
		c.tls = tlsState(a.Conn)
	}
	c.nr.c = c
	c.br, c.bw = getReader(&c.nr), getWriter(c.nc)
	return c
}

// tlsState finds the TLS connection in nc (itself, or below a
// netserver.Conn when the listener was a tls.NewListener) and returns its
// state after the handshake.
func tlsState(nc net.Conn) *tls.ConnectionState {
	for {
		switch c := nc.(type) {
		case *tls.Conn:
			st := c.ConnectionState()
			return &st
		case interface{ Unwrap() net.Conn }:
			nc = c.Unwrap()
		default:
			return nil
		}
	}
}

// Serve runs the connection until it ends: the greeting, then commands
// (netserver.Handler; netserver ran any implicit TLS handshake and closes
// the connection when Serve returns).
func (c *conn) Serve() {
	defer func() {
		// Under TLS, end with close_notify (RFC 8446 6.1); OpenSSL's
		// s_client reports an error without it.
		if c.nc != c.raw {
			c.nc.Close()
		}
		c.log.Debug("disconnected")
	}()
	c.serve()
	// Not deferred: after a panic Recovered still writes through bw, and
	// releases the buffers itself.
	c.releaseBuffers()
}

// serve is Serve but for the buffers' release: the greeting, then commands.
func (c *conn) serve() {
	c.log.Debug("connected")
	if rep := c.stopping(); rep != nil {
		// Shutdown came during the implicit TLS handshake: RFC 5321 3.1
		// allows 421 instead of the greeting.
		c.replyR(rep)
		c.flush()
		return
	}
	c.reply(220, smtp.EnhancedCode{}, c.s.opts.Hostname+" ESMTP Gannet ready")
	c.loop()
}

// loop reads and handles commands until the session ends.
func (c *conn) loop() {
	for !c.closed {
		if rep := c.stopping(); rep != nil {
			c.replyR(rep)
			c.flush()
			return
		}
		c.startCommandWait()
		line, err := c.readLine()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.mu.Lock()
		c.busy = true
		c.mu.Unlock()
		c.dispatch(line)
		c.mu.Lock()
		c.busy = false
		c.mu.Unlock()
	}
	c.flush()
}

// stopping returns the reply that ends the session now (account ended,
// server shutting down), or nil.
func (c *conn) stopping() *smtp.Reply {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.ended != nil:
		return c.ended
	case c.draining:
		return smtp.ShuttingDown()
	}
	return nil
}

// readFailed ends the session after a failed command read.
func (c *conn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		c.reply(500, smtp.EnhancedCode{5, 5, 2}, "Line too long, closing connection")
	case errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded):
		if rep := c.stopping(); rep != nil {
			c.replyR(rep)
		} else {
			c.log.Debug("timeout")
			c.replyR(smtp.Timeout())
		}
	default:
		// EOF or a broken connection: nobody to answer.
		return
	}
	c.flush()
}

// readLine reads one line, without its line ending (CRLF, or a bare LF as
// textproto accepts in commands). The line is valid until the next read.
func (c *conn) readLine() ([]byte, error) {
	max := c.s.opts.MaxLineLength
	line, err := c.br.ReadSlice('\n')
	if err == nil {
		if len(line) > max+2 {
			return nil, errLineTooLong
		}
		return trimEOL(line), nil
	}
	if err != bufio.ErrBufferFull {
		return nil, err
	}
	c.line = append(c.line[:0], line...)
	for {
		if len(c.line) > max {
			return nil, errLineTooLong
		}
		line, err = c.br.ReadSlice('\n')
		c.line = append(c.line, line...)
		if err == nil {
			if len(c.line) > max+2 {
				return nil, errLineTooLong
			}
			return trimEOL(c.line), nil
		}
		if err != bufio.ErrBufferFull {
			return nil, err
		}
	}
}

func trimEOL(b []byte) []byte {
	b = b[:len(b)-1]
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// reply writes a reply into the buffer; text may hold several lines
// separated by "\n" (EHLO). Every line carries the enhanced code when there
// is one (RFC 2034 3).
func (c *conn) reply(code int, enh smtp.EnhancedCode, text string) {
	var num [3]byte
	strconv.AppendInt(num[:0], int64(code), 10)
	for {
		line, rest, more := cut(text, '\n')
		c.bw.Write(num[:])
		if more {
			c.bw.WriteByte('-')
		} else {
			c.bw.WriteByte(' ')
		}
		if !enh.IsZero() {
			c.bw.WriteString(enh.String())
			c.bw.WriteByte(' ')
		}
		c.bw.WriteString(line)
		c.bw.WriteString("\r\n")
		if !more {
			return
		}
		text = rest
	}
}

func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// replyR writes a *smtp.Reply.
func (c *conn) replyR(r *smtp.Reply) { c.reply(r.Code, r.Enhanced, r.Text) }

// flush sends the buffered replies, within Timeout.
func (c *conn) flush() error {
	if c.bw.Buffered() == 0 {
		return nil
	}
	c.raw.SetWriteDeadline(time.Now().Add(c.s.opts.Timeout))
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("write reply: %w", err)
	}
	return nil
}

// Interrupt makes the connection end at its next pause between commands
// (netserver.Handler, called by Shutdown): a command in progress, a message
// being received or delivered, finishes first; then the client gets 421.
func (c *conn) Interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if !c.busy {
		c.raw.SetReadDeadline(past())
	}
}

// endReply is the answer of a session whose account changed.
func endReply() *smtp.Reply {
	return smtp.NewReply(421, smtp.EnhancedCode{4, 7, 0}, "Your session has ended, log in again")
}

// Busy reports whether the session is running a command (netserver.Busy):
// after EndAccount, netserver leaves the connection open until a delivery
// under way has been answered.
func (c *conn) Busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.busy
}

// End makes the connection end now with 421 4.7.0: its account was deleted
// or disabled, or its password changed (netserver.Handler, called by
// EndAccount). A read in progress, even of message data, fails at once; a
// delivery already under way completes first. netserver closes the
// connection if the session has not ended within a second.
func (c *conn) End() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended == nil {
		c.ended = endReply()
	}
	c.raw.SetReadDeadline(past())
}

// Recovered answers 421 after a panic in the session (netserver.Handler;
// netserver logged the panic with its stack and closes the connection). The
// answer reveals nothing of the panic.
func (c *conn) Recovered() {
	defer c.releaseBuffers()
	if c.handshaking {
		// Plain text in the middle of a TLS handshake would be garbage.
		return
	}
	c.raw.SetWriteDeadline(time.Now().Add(noticeTimeout))
	c.reply(421, smtp.EnhancedCode{4, 0, 0}, "Internal server error")
	c.bw.Flush()
	if c.nc != c.raw {
		c.nc.Close() // close_notify
	}
}

// noticeTimeout bounds the write of a last reply after a panic.
const noticeTimeout = 5 * time.Second

// handshake runs the TLS handshake after STARTTLS under netserver's short
// deadline: garbage instead of a ClientHello must not hold a connection for
// long.
func (c *conn) handshake() bool {
	c.handshaking = true
	tc, err := netserver.Handshake(c.ctx, c.raw, c.s.opts.TLS, c.s.opts.HandshakeTimeout)
	c.handshaking = false
	if err != nil {
		c.log.Debug("TLS handshake failed", "err", err)
		return false
	}
	st := tc.ConnectionState()
	c.tls = &st
	c.nc = tc
	// Nothing read before the handshake is used (RFC 3207 4.2): the reader
	// starts empty on the TLS connection.
	c.br.Reset(&c.nr)
	c.bw.Reset(tc)
	return true
}

// discard reads and drops n bytes (a refused BDAT chunk).
func (c *conn) discard(n int64) error {
	_, err := io.CopyN(io.Discard, c.br, n)
	return err
}
