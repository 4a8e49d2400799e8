package pop3server

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
	"strings"
	"sync/atomic"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// state is the session state of RFC 1939 3.
type state int

const (
	stateAuthorization state = iota
	stateTransaction
)

// conn is one client connection. Only its own goroutine touches its fields,
// except raw (Close, SetReadDeadline from Shutdown/Close), the maildrop lock
// fields (under Server.mu) and the atomics.
type conn struct {
	srv *Server
	acc *netserver.Accepted
	raw net.Conn // the accepted connection; TLS, if any, sits on top of it
	nc  net.Conn // raw, or the TLS connection over it
	r   *bufio.Reader
	w   *bufio.Writer
	log *slog.Logger
	ctx context.Context
	ip  netip.Addr

	tls      bool          // TLS is active (implicit or after STLS)
	wtimeout time.Duration // deadline of each write: Timeout, or noticeTimeout at the end
	state    state
	user     string // from USER, waiting for PASS
	bad      int    // consecutive bad commands
	quit     bool   // QUIT answered: close
	// The maildrop lock this connection holds, and the channel closed when
	// it is released (which stops watchLock); under Server.mu.
	lock     store.Lock
	unlocked chan struct{}
	// lockLost: the store lost the maildrop lock, and End was called.
	lockLost atomic.Bool

	ended atomic.Bool // EndAccount: no more commands, no writes but the last line
	final bool        // writing the last line
	// cmdStart is when the running command began (a login's, for EndAccount).
	cmdStart time.Time

	drop *maildrop     // the TRANSACTION state's snapshot
	src  *bufio.Reader // reused to read message bytes
	buf  []byte        // reused by wireSize
}

func (s *Server) newConn(a *netserver.Accepted) *conn {
	c := &conn{
		srv: s,
		acc: a,
		raw: a.Raw,
		nc:  a.Conn,
		tls: a.TLS,
		ctx: a.Ctx,
		log: s.log.With("cid", a.ID, "remote", a.Raw.RemoteAddr().String()),

		wtimeout: s.opts.Timeout,
	}
	c.ip, _ = connlimit.AddrIP(a.Raw.RemoteAddr())
	c.r = bufio.NewReaderSize(deadlineReader{c}, s.opts.MaxLine)
	c.w = bufio.NewWriterSize(deadlineWriter{c}, 32<<10)
	return c
}

// readTimeout is how long a read may wait: the autologout timer once logged
// in, the shorter pre-authentication one before.
func (c *conn) readTimeout() time.Duration {
	if c.state == stateAuthorization {
		return c.srv.opts.PreauthTimeout
	}
	return c.srv.opts.Timeout
}

// deadlineReader and deadlineWriter give every read and write on the current
// connection (plain or TLS) a fresh deadline (docs/ARCHITECTURE.md, "deadlines always"; RFC 1939 3
// autologout).
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	if d.c.ended.Load() {
		return 0, errEnded
	}
	if err := d.c.nc.SetReadDeadline(time.Now().Add(d.c.readTimeout())); err != nil {
		return 0, err
	}
	// Checked after setting the deadline: Shutdown sets the flag before it
	// interrupts, so either we see the flag or its interrupt comes after our
	// deadline and wakes the read below.
	if d.c.ended.Load() {
		return 0, errEnded
	}
	if d.c.srv.closing() {
		return 0, errShutdown
	}
	return d.c.nc.Read(p)
}

type deadlineWriter struct{ c *conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	if d.c.ended.Load() && !d.c.final {
		// The account changed: nothing more of it goes out.
		return 0, errEnded
	}
	if err := d.c.nc.SetWriteDeadline(time.Now().Add(d.c.wtimeout)); err != nil {
		return 0, err
	}
	return d.c.nc.Write(p)
}

// Interrupt makes a blocked read return at once, so that the connection loop
// notices a shutdown (netserver.Handler).
func (c *conn) Interrupt() {
	c.raw.SetReadDeadline(time.Now())
}

// End ends the session at once: its account changed (netserver.Handler,
// Server.EndAccount). Reads and writes fail from now on, and serve sends
// one -ERR line and closes, never entering the UPDATE state.
func (c *conn) End() {
	c.ended.Store(true)
	c.raw.SetReadDeadline(time.Now())
}

// Recovered answers after a panic (netserver.Handler; netserver logged it).
func (c *conn) Recovered() {
	c.raw.SetDeadline(time.Now().Add(noticeTimeout))
	// Not over a TLS connection whose handshake did not complete: a write
	// would start the handshake again.
	if tc, ok := c.nc.(*tls.Conn); !ok || tc.ConnectionState().HandshakeComplete {
		c.final = true
		c.w.Reset(deadlineWriter{c})
		c.w.WriteString("-ERR [SYS/TEMP] internal error, closing connection\r\n")
		c.w.Flush()
	}
	c.finish()
}

// finish closes the connection through the TLS layer when there is one, so
// that clients get a close_notify (openssl reports "unexpected eof"
// otherwise), and releases the maildrop.
func (c *conn) finish() {
	c.nc.Close()
	c.srv.unlockMaildrop(c)
}

// secure reports whether credentials may be sent: over TLS, or from loopback
// in dev mode (RFC 2595 2.3: no plaintext passwords without TLS).
func (c *conn) secure() bool {
	return c.tls || (c.srv.opts.Dev && c.ip.IsLoopback())
}

// Serve runs the connection until QUIT, error, timeout or shutdown
// (netserver.Handler; netserver ran any implicit TLS handshake).
func (c *conn) Serve() {
	c.log.Debug("connection opened")
	// RFC 1939 4: the greeting.
	c.reply("+OK %s POP3 server ready", c.srv.opts.Hostname)
	err := c.loop()
	switch {
	case err == nil:
	case c.lockLost.Load():
		// The maildrop may now be open elsewhere: nothing is committed.
		c.log.Warn("session ended: maildrop lock lost")
		c.notice("-ERR [SYS/TEMP] maildrop lock lost, log in again")
	case c.ended.Load():
		// RFC 3206 AUTH: log in again (the account was changed or removed).
		c.log.Info("session ended: account changed")
		c.notice("-ERR [AUTH] session ended by the server, log in again")
	case errors.Is(err, errShutdown):
		c.notice("-ERR [SYS/TEMP] server shutting down, try again later")
	case isTimeout(err):
		// RFC 1939 3: the autologout timer ends the session without UPDATE.
		c.notice("-ERR autologout: idle for too long")
	case errors.Is(err, errTooManyBad):
		c.notice("-ERR too many bad commands, closing connection")
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		var se sourceError
		if errors.As(err, &se) {
			c.log.Error("message read failed during transfer", "err", err)
		} else {
			c.log.Debug("connection ended", "err", err)
		}
	}
	c.finish()
	c.log.Debug("connection closed")
}

var (
	errShutdown   = errors.New("server shutting down")
	errTooManyBad = errors.New("too many bad commands")
	errLineLength = errors.New("line too long")
	errEnded      = errors.New("session ended by the server")
)

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// notice writes a last line before closing, with a short deadline: the
// client may be the reason the connection ends.
func (c *conn) notice(line string) {
	c.final = true
	if c.ended.Load() {
		// Drop what the ended session had not sent (and a write error
		// that bufio.Writer would keep).
		c.w.Reset(deadlineWriter{c})
	}
	c.wtimeout = noticeTimeout
	c.w.WriteString(line + "\r\n")
	c.w.Flush()
}

// loop reads and runs commands. It returns nil after QUIT.
func (c *conn) loop() error {
	for !c.quit {
		// Pipelining (RFC 2449 6.6): answer everything that was sent together,
		// and flush only when no further command is waiting.
		if c.r.Buffered() == 0 {
			if err := c.w.Flush(); err != nil {
				return err
			}
		}
		if c.srv.closing() {
			return errShutdown
		}
		line, err := c.readLine()
		if errors.Is(err, errLineLength) {
			if err := c.bump(&failure{text: "line too long"}); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			if isTimeout(err) && c.srv.closing() {
				return errShutdown
			}
			return err
		}
		if c.ended.Load() {
			// Read just before End: not run (a QUIT would commit DELE).
			return errEnded
		}
		c.cmdStart = time.Now()
		if err := c.bump(c.dispatch(line)); err != nil {
			return err
		}
	}
	return c.w.Flush()
}

// bump answers a command's outcome: a failure is answered -ERR and counted,
// anything else resets the count; an I/O error is returned.
func (c *conn) bump(err error) error {
	var f *failure
	if !errors.As(err, &f) {
		if err == nil {
			c.bad = 0
		}
		return err
	}
	if f.cause != nil {
		c.log.Warn("command failed", "err", f.cause)
	}
	code := ""
	if f.code != "" {
		code = "[" + f.code + "] "
	}
	c.reply("-ERR %s%s", code, f.text)
	if f.bad {
		if c.bad++; c.bad >= maxBadCommands {
			return errTooManyBad
		}
	}
	return nil
}

// readLine reads one command line without its line break (CRLF, or a bare LF
// from a sloppy client). A line longer than MaxLine is consumed and reported
// as errLineLength; a client that never ends it is cut off.
func (c *conn) readLine() (string, error) {
	line, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		for skipped := len(line); ; {
			more, err := c.r.ReadSlice('\n')
			skipped += len(more)
			if err == nil {
				return "", errLineLength
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return "", err
			}
			if skipped > 64*c.srv.opts.MaxLine {
				return "", fmt.Errorf("command line over %d octets: %w", skipped, io.EOF)
			}
		}
	}
	if err != nil {
		return "", err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return string(line), nil
}

// reply writes one response line (RFC 1939 3: at most 512 octets with CRLF;
// every caller's text is short and ours).
func (c *conn) reply(format string, args ...any) {
	fmt.Fprintf(c.w, format, args...)
	c.w.WriteString("\r\n")
}

// failure is a negative response (RFC 1939 3 "-ERR"): an optional response
// code (RFC 2449 8, RFC 3206), text for the client, and an internal cause that
// is logged and never sent. bad marks client mistakes, which are counted.
type failure struct {
	code  string
	text  string
	cause error
	bad   bool
}

func (f *failure) Error() string {
	if f.cause != nil {
		return f.text + ": " + f.cause.Error()
	}
	return f.text
}

// Failures shared by several commands.
func errSyntax(text string) error { return &failure{text: text, bad: true} }

func errState() error {
	return &failure{text: "command not valid in this state", bad: true}
}

func errTemp(cause error) error {
	return &failure{code: "SYS/TEMP", text: "temporary server failure, try again later", cause: cause}
}

// dispatch runs one command line (RFC 1939 3: a case-insensitive keyword, then
// arguments separated by single spaces).
func (c *conn) dispatch(line string) error {
	kw, arg, _ := strings.Cut(line, " ")
	kw = strings.ToUpper(kw)
	switch c.state {
	case stateAuthorization:
		switch kw {
		case "CAPA":
			return c.cmdCAPA(arg)
		case "USER":
			return c.cmdUSER(arg)
		case "PASS":
			return c.cmdPASS(arg)
		case "AUTH":
			return c.cmdAUTH(arg)
		case "STLS":
			return c.cmdSTLS(arg)
		case "QUIT":
			return c.cmdQUIT(arg)
		case "NOOP", "STAT", "LIST", "RETR", "DELE", "RSET", "TOP", "UIDL":
			return errState()
		}
	case stateTransaction:
		switch kw {
		case "CAPA":
			return c.cmdCAPA(arg)
		case "STAT":
			return c.cmdSTAT(arg)
		case "LIST":
			return c.cmdLIST(arg)
		case "RETR":
			return c.cmdRETR(arg)
		case "TOP":
			return c.cmdTOP(arg)
		case "UIDL":
			return c.cmdUIDL(arg)
		case "DELE":
			return c.cmdDELE(arg)
		case "RSET":
			return c.cmdRSET(arg)
		case "NOOP":
			return c.cmdNOOP(arg)
		case "QUIT":
			return c.cmdQUIT(arg)
		case "USER", "PASS", "AUTH", "STLS", "APOP":
			return errState()
		}
	}
	return &failure{text: "unknown command", bad: true}
}

// noArgs refuses arguments to a command that takes none.
func noArgs(arg string) error {
	if arg != "" {
		return errSyntax("this command takes no arguments")
	}
	return nil
}
