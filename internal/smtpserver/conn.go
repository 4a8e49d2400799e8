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
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/delivery"
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

// conn is one client connection and its SMTP session.
//
// Only the connection's goroutine touches the session fields; mu guards what
// Shutdown and EndAccount reach from other goroutines.
type conn struct {
	s      *Server
	raw    net.Conn // below TLS; holds the per-IP slot
	nc     net.Conn // raw, or the TLS connection over it
	br     *bufio.Reader
	bw     *bufio.Writer
	ip     netip.Addr
	cid    string
	log    *slog.Logger
	ctx    context.Context
	tls    *tls.ConnectionState // nil without TLS
	line   []byte               // a command line longer than br's buffer is assembled here
	nr     netReader
	sess   session
	closed bool // by the connection's goroutine, after QUIT or a fatal error

	mu       sync.Mutex
	busy     bool        // handling a command: Shutdown lets it finish
	draining bool        // Shutdown: end at the next pause between commands
	ended    *smtp.Reply // EndAccount: end now, with this reply
	account  int64       // the authenticated account, 0 if none
	shut     bool        // closed once, by whoever comes first
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

// serveConn runs one connection until it ends: the TLS handshake under
// implicit TLS, the greeting, then commands. It closes nc.
func (s *Server) serveConn(ctx context.Context, nc net.Conn, implicitTLS bool) {
	ip, _ := connlimit.AddrIP(nc.RemoteAddr())
	c := &conn{s: s, raw: nc, nc: nc, ip: ip, cid: delivery.NewID()[:10], ctx: ctx}
	c.log = s.log.With("cid", c.cid, "remote", nc.RemoteAddr().String())
	c.nr.c = c
	if !s.track(c) {
		nc.Close()
		return
	}
	defer c.close()
	defer s.untrack(c)
	defer func() {
		// Under TLS, end with close_notify (RFC 8446 6.1); OpenSSL's
		// s_client reports an error without it.
		if c.nc != c.raw {
			c.nc.Close()
		}
	}()
	c.log.Debug("connected")
	c.br = bufio.NewReaderSize(&c.nr, readBufSize)
	c.bw = bufio.NewWriterSize(nc, writeBufSize)
	if implicitTLS {
		if !c.handshake() {
			return
		}
	}
	c.reply(220, smtp.EnhancedCode{}, s.opts.Hostname+" ESMTP Gannet ready")
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
		c.handle(line)
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

// handle runs one command, recovering a panic: 421, close, log.
func (c *conn) handle(line []byte) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic", "panic", v, "stack", string(debug.Stack()))
			c.reply(421, smtp.EnhancedCode{4, 0, 0}, "Internal server error")
			c.flush()
			c.closed = true
		}
	}()
	c.dispatch(line)
}

// accountID is the authenticated account's id, 0 if none.
func (c *conn) accountID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.account
}

// drain makes the connection end at its next pause between commands.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if !c.busy {
		c.raw.SetReadDeadline(past())
	}
}

// end makes the connection end now with rep: a read in progress, even of
// message data, fails at once. It reports false when the connection was
// already ending.
func (c *conn) end(rep *smtp.Reply) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended != nil || c.shut {
		return false
	}
	c.ended = rep
	c.raw.SetReadDeadline(past())
	return true
}

// close closes the connection once and gives back its per-IP slot.
func (c *conn) close() {
	c.mu.Lock()
	if c.shut {
		c.mu.Unlock()
		return
	}
	c.shut = true
	c.mu.Unlock()
	// raw, not nc: another goroutine may call this while the connection's
	// own switches nc to TLS; closing below TLS ends both.
	c.raw.Close()
	c.log.Debug("disconnected")
}

// handshake runs the TLS handshake (implicit TLS, or after STARTTLS) within
// a short deadline: garbage instead of a ClientHello must not hold a
// connection for long.
func (c *conn) handshake() bool {
	tc := tls.Server(c.raw, c.s.opts.TLS)
	d := time.Now().Add(min(c.s.opts.Timeout, handshakeTimeout))
	c.setReadDeadline(d)
	c.raw.SetWriteDeadline(d)
	if err := tc.HandshakeContext(c.ctx); err != nil {
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

// handshakeTimeout bounds a TLS handshake.
const handshakeTimeout = 10 * time.Second

// discard reads and drops n bytes (a refused BDAT chunk).
func (c *conn) discard(n int64) error {
	_, err := io.CopyN(io.Discard, c.br, n)
	return err
}
