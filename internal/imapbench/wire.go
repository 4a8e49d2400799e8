package imapbench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

const (
	// maxLine bounds one logical response line (literal contents are
	// discarded, not kept): UID FETCH 1:* (FLAGS) over a 100,000-message
	// mailbox is about 4 MB of separate lines, so a single line above this
	// is a broken server.
	maxLine = 1 << 20
	// literalMinusMax is the largest non-synchronizing literal LITERAL-
	// allows (RFC 7888 3).
	literalMinusMax = 4096
)

// client is one IMAP connection speaking just enough of the protocol for the
// benchmark: tagged commands, untagged lines handed to a callback, literals
// in responses skipped, literals in APPEND sent.
type client struct {
	nc      net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	timeout time.Duration
	tag     uint64
	line    []byte // the current logical response line, reused
	// literalPlus and literalMinus come from the server's CAPABILITY
	// response codes: with them APPEND saves a round trip (RFC 7888).
	literalPlus, literalMinus bool
}

// statusError is a tagged NO or BAD, or a greeting that is not OK.
type statusError struct{ line string }

func (e *statusError) Error() string { return "server said: " + e.line }

func dial(ctx context.Context, o *Options) (*client, error) {
	d := &net.Dialer{Timeout: o.Timeout}
	var nc net.Conn
	var err error
	if o.TLS {
		host, _, _ := net.SplitHostPort(o.Addr)
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: host, InsecureSkipVerify: o.InsecureSkipVerify}}
		nc, err = td.DialContext(ctx, "tcp", o.Addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", o.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", o.Addr, err)
	}
	c := &client{nc: nc, r: bufio.NewReaderSize(nc, 32<<10), w: bufio.NewWriterSize(nc, 8<<10), timeout: o.Timeout}
	if err := nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	line, err := c.readLine()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read greeting: %w", err)
	}
	// RFC 9051 7.1: OK means not authenticated yet; PREAUTH or BYE are no
	// use to a benchmark that logs in.
	if !bytes.HasPrefix(line, []byte("* OK")) {
		nc.Close()
		return nil, &statusError{line: string(line)}
	}
	c.noteCaps(line)
	return c, nil
}

func (c *client) close() error { return c.nc.Close() }

// noteCaps reads a [CAPABILITY ...] response code, if the line has one.
func (c *client) noteCaps(line []byte) {
	_, rest, ok := bytes.Cut(line, []byte("[CAPABILITY "))
	if !ok {
		return
	}
	caps, _, _ := bytes.Cut(rest, []byte("]"))
	c.literalPlus, c.literalMinus = false, false
	for _, cp := range bytes.Fields(caps) {
		switch {
		case bytes.EqualFold(cp, []byte("LITERAL+")):
			c.literalPlus = true
		case bytes.EqualFold(cp, []byte("LITERAL-")):
			c.literalMinus = true
		}
	}
}

// run sends one tagged command, with lit as a trailing literal when it is
// not nil, and reads responses up to the tagged one. Untagged lines go to
// untagged (which must not keep them). A tagged NO or BAD is a *statusError.
func (c *client) run(cmd string, lit []byte, untagged func(line []byte)) error {
	if err := c.nc.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return fmt.Errorf("set deadline: %w", err)
	}
	c.tag++
	tag := strconv.AppendUint([]byte{'a'}, c.tag, 10)
	c.w.Write(tag)
	c.w.WriteByte(' ')
	c.w.WriteString(cmd)
	if lit != nil {
		nonSync := c.literalPlus || (c.literalMinus && len(lit) <= literalMinusMax)
		if nonSync {
			fmt.Fprintf(c.w, " {%d+}\r\n", len(lit))
		} else {
			fmt.Fprintf(c.w, " {%d}\r\n", len(lit))
			if err := c.w.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			// RFC 9051 7.5: wait for the continuation request; a tagged
			// answer instead is the server refusing the literal.
			done, err := c.readUntil(tag, untagged, true)
			if done || err != nil {
				return err
			}
		}
		c.w.Write(lit)
	}
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_, err := c.readUntil(tag, untagged, false)
	return err
}

// readUntil reads responses until the tagged one (done = true, err its
// status) or, when wantCont, a continuation request (done = false).
func (c *client) readUntil(tag []byte, untagged func([]byte), wantCont bool) (done bool, err error) {
	for {
		line, err := c.readLine()
		if err != nil {
			return true, fmt.Errorf("read: %w", err)
		}
		switch {
		case len(line) > len(tag) && line[len(tag)] == ' ' && bytes.HasPrefix(line, tag):
			st := line[len(tag)+1:]
			if bytes.HasPrefix(st, []byte("OK")) {
				c.noteCaps(st)
				return true, nil
			}
			return true, &statusError{line: string(line)}
		case line[0] == '+':
			if wantCont {
				return false, nil
			}
			return true, fmt.Errorf("unexpected continuation request %q", line)
		case line[0] == '*':
			if untagged != nil {
				untagged(line)
			}
		default:
			return true, fmt.Errorf("unexpected response %q", line)
		}
	}
}

// readLine reads one response line without its CRLF. Literals inside it
// ("{n}" CRLF n octets, RFC 9051 4.3) are discarded: the "{n}" stays in the
// line and the octets are skipped, so a FETCH of bodies costs no memory.
func (c *client) readLine() ([]byte, error) {
	c.line = c.line[:0]
	for {
		part, err := c.r.ReadSlice('\n')
		if len(c.line)+len(part) > maxLine {
			return nil, fmt.Errorf("response line longer than %d bytes", maxLine)
		}
		c.line = append(c.line, part...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		c.line = bytes.TrimSuffix(c.line[:len(c.line)-1], []byte("\r"))
		n, ok := trailingLiteral(c.line)
		if !ok {
			if len(c.line) == 0 {
				return nil, errors.New("empty response line")
			}
			return c.line, nil
		}
		if _, err := c.r.Discard(int(n)); err != nil {
			return nil, fmt.Errorf("literal of %d bytes: %w", n, err)
		}
	}
}

// trailingLiteral reports the size of a literal announced at the end of a
// line: "{123}" (or "~{123}" for literal8, RFC 3516).
func trailingLiteral(line []byte) (int64, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(line[i+1:len(line)-1]), 10, 64)
	if err != nil || n < 0 || n > 1<<31 {
		return 0, false
	}
	return n, true
}
