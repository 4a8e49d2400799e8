package smtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"gannet/internal/connlimit"
	"gannet/internal/smtp"
)

// data handles DATA (RFC 5321 4.1.1.4): 354, the message up to CRLF "."
// CRLF, then delivery and one reply.
func (c *conn) data(arg string) {
	tx := c.sess.tx
	switch {
	case arg != "":
		c.reply(501, smtp.EnhancedCode{5, 5, 4}, "DATA takes no parameters")
		return
	case tx != nil && tx.bdat != nil:
		c.reply(503, smtp.EnhancedCode{5, 5, 1}, "DATA not allowed during BDAT transfer")
		return
	case tx == nil || len(tx.rcpts) == 0:
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Missing RCPT TO command")
		return
	}
	c.reply(354, smtp.EnhancedCode{}, "Go ahead, end your data with <CR><LF>.<CR><LF>")
	if c.flush() != nil {
		c.closed = true
		return
	}
	// A client writing the message and the final "." separately would
	// otherwise wait for our delayed ACK (Nagle on its side).
	connlimit.QuickAck(c.raw)
	buf := getBuffer()
	// Nothing keeps msg past this call: delivery copies it (with its trace
	// fields) into the store or the queue before it returns.
	defer putBuffer(buf)
	c.startData()
	rep := c.readData(buf)
	defer c.reset()
	if rep != nil {
		c.dataFailed("data", rep)
		return
	}
	msg := buf.Bytes()
	if hasBareLineEnding(msg) {
		c.refuse("data", smtp.BareLineEnding())
		return
	}
	c.deliver(tx, msg)
}

// readData reads a message sent with DATA into buf, undoing dot-stuffing
// (RFC 5321 4.5.2), line by line as the reader holds them, so that buf grows
// only from what arrived. The message ends at a line "." that follows a
// CRLF (or is the first line): after a bare LF, ".\r\n" is data, so that a
// message cannot be cut short by a line ending other servers read differently
// (SMTP smuggling). It reads to the end even when the message is refused, and
// returns the refusal: too big (552 5.3.4), a line too long (554 5.6.0), or
// a read error (421 and the connection ends).
func (c *conn) readData(buf *bytes.Buffer) *smtp.Reply {
	maxBytes := c.s.opts.MaxMessageBytes
	maxLine := int64(c.s.opts.MaxLineLength) + 2
	var (
		lineLen   int64 // bytes of the current line so far
		realStart = true
		lastCR    bool // the last byte read was CR
		tooBig    bool
		tooLong   bool
	)
	for {
		chunk, err := c.br.ReadSlice('\n')
		if err != nil && err != bufio.ErrBufferFull {
			return c.dataReadError(err)
		}
		whole := err == nil // chunk ends the line
		if lineLen == 0 && realStart && len(chunk) > 0 && chunk[0] == '.' {
			if whole && len(chunk) == 3 && chunk[1] == '\r' {
				break
			}
			chunk = chunk[1:]
		}
		lineLen += int64(len(chunk))
		if lineLen > maxLine {
			tooLong = true
		}
		if int64(buf.Len()+len(chunk)) > maxBytes {
			tooBig = true
		}
		if !tooBig && !tooLong {
			buf.Write(chunk)
		}
		if whole {
			n := len(chunk)
			realStart = n >= 2 && chunk[n-2] == '\r' || n == 1 && lastCR
			lineLen = 0
		}
		if n := len(chunk); n > 0 {
			lastCR = chunk[n-1] == '\r'
		}
	}
	switch {
	case tooBig:
		return smtp.MessageTooBig()
	case tooLong:
		return smtp.LineTooLong()
	}
	return nil
}

// dataFailed answers a message that was not received whole: a 421 ends the
// session; a client that went away is only noted.
func (c *conn) dataFailed(cmd string, rep *smtp.Reply) {
	if rep.Code == 421 {
		c.closed = true
	}
	if errors.Is(rep, io.EOF) || errors.Is(rep, io.ErrUnexpectedEOF) || errors.Is(rep, net.ErrClosed) {
		c.log.Debug("connection ended during the message", "cmd", cmd, "err", rep.Cause)
		return
	}
	c.refuse(cmd, rep)
}

// dataReadError maps a failed read of message data to a reply: 421 for a
// timeout (or the session's end), nothing to say after EOF.
func (c *conn) dataReadError(err error) *smtp.Reply {
	c.mu.Lock()
	ended := c.ended
	c.mu.Unlock()
	if ended != nil {
		return ended
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return smtp.Timeout().WithCause(err)
	}
	c.closed = true
	return smtp.NewReply(421, smtp.EnhancedCode{4, 4, 0}, "Connection error").WithCause(err)
}

// bdatBuf holds the chunks of a BDAT transfer.
type bdatBuf struct{ b *bytes.Buffer }

func (b *bdatBuf) release() {
	if b.b != nil {
		putBuffer(b.b)
		b.b = nil
	}
}

// bdat handles BDAT (RFC 3030 2): the chunk of the given size follows the
// command line at once, whatever the reply; LAST ends the message.
func (c *conn) bdat(arg string) {
	f := strings.Fields(arg)
	var size int64 = -1
	last := false
	if len(f) == 1 || len(f) == 2 {
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err == nil && n >= 0 && f[0][0] != '+' {
			size = n
		}
		if len(f) == 2 {
			last = strings.EqualFold(f[1], "LAST")
			if !last {
				size = -1
			}
		}
	}
	if size < 0 {
		// Without a size we cannot tell where the chunk ends: what follows
		// would be read as commands. Refuse and end the session.
		c.reply(501, smtp.EnhancedCode{5, 5, 4}, "Syntax: BDAT <size> [LAST]; closing connection")
		c.closed = true
		return
	}
	tx := c.sess.tx
	c.startData()
	if tx == nil || len(tx.rcpts) == 0 {
		c.reply(502, smtp.EnhancedCode{5, 5, 1}, "Missing RCPT TO command")
		c.skipChunk(size)
		return
	}
	if c.sess.bdatBytes+size > c.s.opts.MaxMessageBytes {
		c.skipChunk(size)
		c.refuse("bdat", smtp.MessageTooBig())
		c.reset()
		return
	}
	if tx.bdat == nil {
		tx.bdat = &bdatBuf{b: getBuffer()}
	}
	// ReadFrom grows the buffer as bytes arrive, never to the announced size.
	n, err := tx.bdat.b.ReadFrom(io.LimitReader(c.br, size))
	c.sess.bdatBytes += n
	if err == nil && n < size {
		err = errShortChunk
	}
	if err != nil {
		c.dataFailed("bdat", c.dataReadError(err))
		c.closed = true
		return
	}
	if !last {
		c.reply(250, smtp.EnhancedCode{2, 0, 0}, "Chunk accepted, "+strconv.FormatInt(size, 10)+" octets")
		return
	}
	defer c.reset()
	msg := tx.bdat.b.Bytes()
	if hasBareLineEnding(msg) {
		c.refuse("bdat", smtp.BareLineEnding())
		return
	}
	c.deliver(tx, msg)
}

var errShortChunk = fmt.Errorf("connection ended inside a BDAT chunk: %w", io.ErrUnexpectedEOF)

// skipChunk reads and drops a chunk that is refused.
func (c *conn) skipChunk(n int64) {
	if err := c.discard(n); err != nil {
		c.closed = true
	}
}

// hasBareLineEnding reports a CR not followed by LF or an LF not preceded by
// CR (RFC 5321 2.3.8: lines end with CRLF, and a bare CR or LF is not a line
// ending). Both are counted with vectorised byte searches: every LF must have a
// CR before it, and then there may be no CR beyond those.
func hasBareLineEnding(b []byte) bool {
	lf := 0
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			break
		}
		if i+j == 0 || b[i+j-1] != '\r' {
			return true
		}
		lf++
		i += j + 1
	}
	return bytes.Count(b, []byte{'\r'}) != lf
}
