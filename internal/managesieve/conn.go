package managesieve

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
	"strings"
	"sync/atomic"
	"time"

	"gannet/internal/connlimit"
	"gannet/internal/netserver"
	"gannet/internal/store"
)

// conn is one client connection. Only its goroutine touches its fields,
// except raw (deadlines from Interrupt/End) and the atomics.
type conn struct {
	srv *Server
	acc *netserver.Accepted
	raw net.Conn // the socket; TLS, if any, sits on top of it
	nc  net.Conn // raw, or the TLS connection over it
	r   *bufio.Reader
	w   *bufio.Writer
	log *slog.Logger
	ctx context.Context
	ip  netip.Addr

	tls      bool
	account  *store.Account // nil before AUTHENTICATE
	bad      int
	logout   bool
	final    bool
	wtimeout time.Duration
	ended    atomic.Bool
	cmdStart time.Time
}

var (
	errShutdown   = errors.New("server shutting down")
	errEnded      = errors.New("session ended by the server")
	errTooManyBad = errors.New("too many bad commands")
)

func (s *Server) newConn(a *netserver.Accepted) *conn {
	c := &conn{srv: s, acc: a, raw: a.Raw, nc: a.Conn, tls: a.TLS, ctx: a.Ctx,
		log:      s.log.With("cid", a.ID, "remote", a.Raw.RemoteAddr().String()),
		wtimeout: s.opts.Timeout}
	c.ip, _ = connlimit.AddrIP(a.Raw.RemoteAddr())
	c.r = bufio.NewReaderSize(deadlineReader{c}, 4096)
	c.w = bufio.NewWriterSize(deadlineWriter{c}, 16<<10)
	return c
}

// deadlineReader and deadlineWriter give every read and write a fresh
// deadline (docs/ARCHITECTURE.md, "deadlines always").
type deadlineReader struct{ c *conn }

func (d deadlineReader) Read(p []byte) (int, error) {
	c := d.c
	if c.ended.Load() {
		return 0, errEnded
	}
	t := c.srv.opts.Timeout
	if c.account == nil {
		t = c.srv.opts.PreauthTimeout
	}
	if err := c.nc.SetReadDeadline(time.Now().Add(t)); err != nil {
		return 0, err
	}
	// After the deadline is set: an End or Shutdown from now on interrupts
	// the read below, one before it is seen here.
	if c.ended.Load() {
		return 0, errEnded
	}
	if c.srv.ns.ShuttingDown() {
		return 0, errShutdown
	}
	return c.nc.Read(p)
}

type deadlineWriter struct{ c *conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	if d.c.ended.Load() && !d.c.final {
		return 0, errEnded
	}
	if err := d.c.nc.SetWriteDeadline(time.Now().Add(d.c.wtimeout)); err != nil {
		return 0, err
	}
	return d.c.nc.Write(p)
}

// Interrupt wakes a blocked read for Shutdown (netserver.Handler).
func (c *conn) Interrupt() { c.raw.SetReadDeadline(time.Now()) }

// End ends the session: its account changed (netserver.Handler).
func (c *conn) End() {
	c.ended.Store(true)
	c.raw.SetReadDeadline(time.Now())
}

// Recovered says BYE after a panic (netserver.Handler).
func (c *conn) Recovered() {
	c.raw.SetDeadline(time.Now().Add(noticeTimeout))
	if tc, ok := c.nc.(*tls.Conn); !ok || tc.ConnectionState().HandshakeComplete {
		c.notice(`BYE "Internal error, closing connection"`)
	}
	c.nc.Close()
}

// secure: credentials may be sent (RFC 5804 2.1: TLS first; dev: loopback).
func (c *conn) secure() bool { return c.tls || (c.srv.opts.Dev && c.ip.IsLoopback()) }

// Serve runs the connection (netserver.Handler).
func (c *conn) Serve() {
	defer c.nc.Close()
	// RFC 5804 1.7: the greeting is the capability list.
	c.capabilities()
	c.ok("", "Gannet ManageSieve ready")
	err := c.loop()
	switch {
	case err == nil:
	case c.ended.Load():
		c.notice(`BYE "Session ended by the server, log in again"`)
	case errors.Is(err, errShutdown):
		c.notice(`BYE (TRYLATER) "Server shutting down"`)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.notice(`BYE "Idle for too long"`)
	case errors.Is(err, errTooManyBad):
		c.notice(`BYE "Too many bad commands"`)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		c.log.Debug("connection ended", "err", err)
	}
}

// notice writes a last line under a short deadline.
func (c *conn) notice(line string) {
	c.final = true
	c.w.Reset(deadlineWriter{c})
	c.wtimeout = noticeTimeout
	c.w.WriteString(line + "\r\n")
	c.w.Flush()
}

func (c *conn) loop() error {
	for !c.logout {
		if c.r.Buffered() == 0 {
			if err := c.w.Flush(); err != nil {
				return err
			}
		}
		if c.srv.ns.ShuttingDown() {
			return errShutdown
		}
		name, args, err := c.readCommand()
		var se *syntaxError
		if errors.As(err, &se) {
			c.no("", se.msg)
			if c.bad++; c.bad >= maxBadCommands {
				return errTooManyBad
			}
			continue
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.srv.ns.ShuttingDown() {
				return errShutdown
			}
			return err
		}
		if c.ended.Load() {
			return errEnded
		}
		c.cmdStart = time.Now()
		if err := c.dispatch(name, args); err != nil {
			return err
		}
	}
	return c.w.Flush()
}

// syntaxError is a malformed command: answered NO, the connection goes on.
type syntaxError struct{ msg string }

func (e *syntaxError) Error() string { return e.msg }

// readCommand reads one command (RFC 5804 4): an atom, then strings
// (quoted, or literals {n+}/{n} followed by CRLF and n octets) and numbers,
// up to CRLF. Outside literals at most MaxLine octets are read; a literal is
// at most MaxScript octets. A malformed command is consumed to its line end
// and reported as *syntaxError.
func (c *conn) readCommand() (string, []string, error) { return c.readLine(true) }

// readCommandArgs reads a line of strings without a command name (a SASL
// response).
func (c *conn) readCommandArgs() (string, []string, error) { return c.readLine(false) }

func (c *conn) readLine(needName bool) (string, []string, error) {
	budget := c.srv.opts.MaxLine
	next := func() (byte, error) {
		if budget--; budget < 0 {
			return 0, &syntaxError{"Command too long"}
		}
		return c.r.ReadByte()
	}
	fail := func(err error) (string, []string, error) {
		var se *syntaxError
		if errors.As(err, &se) {
			if err := c.skipLine(); err != nil {
				return "", nil, err
			}
		}
		return "", nil, err
	}
	var name string
	var args []string
	for {
		b, err := next()
		if err != nil {
			return fail(err)
		}
		switch {
		case b == ' ':
		case b == '\r':
			if b, err = next(); err != nil {
				return fail(err)
			}
			if b != '\n' {
				return fail(&syntaxError{"Bare CR"})
			}
			fallthrough
		case b == '\n':
			if name == "" && needName {
				return fail(&syntaxError{"Empty command"})
			}
			return name, args, nil
		case b == '"':
			var sb strings.Builder
			for {
				b, err := next()
				if err != nil {
					return fail(err)
				}
				if b == '"' {
					break
				}
				if b == '\\' {
					if b, err = next(); err != nil {
						return fail(err)
					}
				}
				if b == '\r' || b == '\n' || b == 0 {
					return fail(&syntaxError{"Bad quoted string"})
				}
				sb.WriteByte(b)
			}
			args = append(args, sb.String())
		case b == '{':
			var num []byte
			for {
				b, err := next()
				if err != nil {
					return fail(err)
				}
				if b == '}' {
					break
				}
				num = append(num, b)
			}
			n, err := strconv.Atoi(strings.TrimSuffix(string(num), "+"))
			if err != nil || n < 0 {
				return fail(&syntaxError{"Bad literal"})
			}
			if b, err := next(); err != nil || b != '\r' {
				return fail(&syntaxError{"Bad literal"})
			}
			if b, err := next(); err != nil || b != '\n' {
				return fail(&syntaxError{"Bad literal"})
			}
			if n > c.srv.opts.MaxScript {
				// Read and drop it: a non-synchronizing literal is on its way.
				if _, err := io.CopyN(io.Discard, c.r, int64(n)); err != nil {
					return "", nil, err
				}
				return fail(&syntaxError{fmt.Sprintf("Literal over %d octets", c.srv.opts.MaxScript)})
			}
			buf := make([]byte, n)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				return "", nil, err
			}
			args = append(args, string(buf))
		case needName && name == "" && isAtomChar(b):
			nb := []byte{b}
			for {
				p, err := c.r.Peek(1)
				if err != nil || !isAtomChar(p[0]) {
					break
				}
				b, err := next()
				if err != nil {
					return fail(err)
				}
				nb = append(nb, b)
			}
			name = strings.ToUpper(string(nb))
		case b >= '0' && b <= '9':
			nb := []byte{b}
			for {
				p, err := c.r.Peek(1)
				if err != nil || p[0] < '0' || p[0] > '9' {
					break
				}
				b, err := next()
				if err != nil {
					return fail(err)
				}
				nb = append(nb, b)
			}
			args = append(args, string(nb))
		default:
			return fail(&syntaxError{"Syntax error"})
		}
	}
}

func isAtomChar(b byte) bool { return b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' }

// skipLine consumes the rest of a bad command line, up to 64 × MaxLine.
func (c *conn) skipLine() error {
	for n := 0; n < 64*c.srv.opts.MaxLine; n++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return err
		}
		if b == '\n' {
			return nil
		}
	}
	return fmt.Errorf("command line without end: %w", io.EOF)
}

// str encodes a string for a response: quoted when short and plain, else a
// literal (RFC 5804 4: literal-s2c).
func str(s string) string {
	if len(s) <= 1024 && !strings.ContainsAny(s, "\r\n\x00") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
}

// ok and no write a response (RFC 5804 1.3) with an optional response code.
func (c *conn) ok(code, text string) { c.respond("OK", code, text) }
func (c *conn) no(code, text string) { c.respond("NO", code, text) }

func (c *conn) respond(kind, code, text string) {
	c.w.WriteString(kind)
	if code != "" {
		c.w.WriteString(" (" + code + ")")
	}
	if text != "" {
		c.w.WriteString(" " + str(text))
	}
	c.w.WriteString("\r\n")
}
