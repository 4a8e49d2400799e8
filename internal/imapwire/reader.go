package imapwire

import (
	"bufio"
	"errors"
	"io"
)

// Default limits, used for zero fields of Options.
const (
	// DefaultMaxLine leaves room for the longest sensible command line: RFC
	// 7162 4 asks servers to accept lines of at least 8192 octets.
	DefaultMaxLine = 64 << 10
	// DefaultMaxLiteral bounds a literal read into memory (not APPEND data).
	DefaultMaxLiteral = 1 << 20
	// DefaultMaxCommand bounds all lines and buffered literals of a command.
	DefaultMaxCommand = 4 << 20
	// DefaultMaxDiscard bounds what Skip reads to throw away a refused
	// non-synchronizing literal.
	DefaultMaxDiscard = 64 << 20
	// DefaultMaxDepth bounds list nesting (SEARCH parentheses, ...).
	DefaultMaxDepth = 64
)

// tailKeep is how much of the end of an over-long line is kept: enough to
// see a literal prefix ("~{9223372036854775807+}") that the line ends with.
const tailKeep = 32

// Options configures a Reader. Zero limits take the Default values.
type Options struct {
	MaxLine    int   // longest line, without CRLF and literal data
	MaxLiteral int64 // largest literal read into memory
	MaxCommand int64 // all lines plus buffered literals of one command
	MaxDiscard int64 // largest refused non-synchronizing literal Skip discards
	// MaxNonSync, if positive, refuses larger non-synchronizing literals
	// with KindLiteralTooLarge: 4096 for LITERAL- (RFC 7888 5). Zero means
	// only the other limits apply (LITERAL+).
	MaxNonSync int64
	MaxDepth   int // deepest list nesting
	// UTF8 allows 8-bit UTF-8 in quoted strings and takes mailbox names as
	// UTF-8 instead of modified UTF-7: set it once the client has enabled
	// UTF8=ACCEPT (RFC 6855 3) or IMAP4rev2 (RFC 9051 6.3.1).
	UTF8 bool
	// Continue sends a command continuation request ("+ ..." CRLF) and
	// flushes it. It is called before the data of an accepted synchronizing
	// literal is read (RFC 9051 7.6); if it fails the Reader fails with
	// KindIO. A nil Continue sends nothing: only for pre-recorded input.
	Continue func() error
}

func (o Options) withDefaults() Options {
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.MaxLiteral <= 0 {
		o.MaxLiteral = DefaultMaxLiteral
	}
	if o.MaxCommand <= 0 {
		o.MaxCommand = DefaultMaxCommand
	}
	if o.MaxDiscard <= 0 {
		o.MaxDiscard = DefaultMaxDiscard
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	return o
}

// Reader reads client commands from one connection.
type Reader struct {
	br   *bufio.Reader
	opts Options
	p    Parser
	err  error // sticky KindIO error
}

// Command is one command as returned by ReadCommand. Args is valid until the
// next ReadCommand, ReadLine or Skip.
type Command struct {
	Tag  string
	Name string // upper-case, e.g. "UID" (its sub-command is the first argument)
	Args *Parser
}

// errTooLong is readLine's internal signal; callers turn it into an *Error.
var errTooLong = errors.New("line too long")

// NewReader returns a Reader of commands from br.
func NewReader(br *bufio.Reader, opts Options) *Reader {
	r := &Reader{br: br, opts: opts.withDefaults()}
	r.p.r = r
	return r
}

// SetUTF8 switches 8-bit quoted strings and UTF-8 mailbox names on or off
// (see Options.UTF8). Call it between commands.
func (r *Reader) SetUTF8(on bool) { r.opts.UTF8 = on }

// SetOptions replaces the options, e.g. to raise limits after login. Call it
// between commands.
func (r *Reader) SetOptions(o Options) { r.opts = o.withDefaults() }

// ReadCommand reads the next command's tag and name; the caller then reads
// the arguments from Command.Args and finishes with Args.End. An unfinished
// previous command is skipped first. Empty lines are ignored. On an error
// that is not KindIO the caller answers it and calls Skip (or ReadCommand
// again, which skips).
func (r *Reader) ReadCommand() (Command, error) {
	if r.err != nil {
		return Command{}, r.err
	}
	p := &r.p
	if p.active {
		if err := r.Skip(); err != nil {
			return Command{}, err
		}
	}
	p.begin()
	for len(p.line) == 0 {
		if err := r.readLine(); err != nil {
			if err != errTooLong {
				return Command{}, err
			}
			p.active = true
			p.tag = headTag(p.line)
			p.useTail()
			return Command{}, p.fail(KindLineTooLong, "command line too long")
		}
	}
	p.active = true
	p.cmdBytes = int64(len(p.line))
	// RFC 9051 9: command = tag SP (command-any / ...) CRLF
	i := 0
	for i < len(p.line) && isTagChar(p.line[i]) {
		i++
	}
	if i == 0 || (i < len(p.line) && p.line[i] != ' ') {
		return Command{}, p.fail(KindSyntax, "invalid tag")
	}
	p.tag = string(p.line[:i])
	if i+1 >= len(p.line) {
		p.pos = i
		return Command{}, p.fail(KindSyntax, "missing command")
	}
	p.pos = i + 1
	j := p.pos
	for j < len(p.line) && IsAtomChar(p.line[j]) {
		j++
	}
	if j == p.pos || (j < len(p.line) && p.line[j] != ' ') {
		return Command{}, p.fail(KindSyntax, "invalid command name")
	}
	name := p.line[p.pos:j]
	for k := range name {
		name[k] = upperASCII(name[k])
	}
	p.pos = j
	return Command{Tag: p.tag, Name: intern(name), Args: p}, nil
}

// headTag is the tag at the start of an over-long line, or "".
func headTag(head []byte) string {
	for i, c := range head {
		if c == ' ' {
			if i == 0 {
				return ""
			}
			return string(head[:i])
		}
		if !isTagChar(c) {
			return ""
		}
	}
	return ""
}

// ReadLine reads one raw line without its line end, for the client's
// answers to continuation requests outside command syntax: AUTHENTICATE
// responses (RFC 9051 6.2.2) and IDLE's "DONE" (RFC 9051 6.3.13). An
// unfinished command is skipped first. An over-long line is discarded up to
// its end and reported as KindLineTooLong.
func (r *Reader) ReadLine() (string, error) {
	if r.err != nil {
		return "", r.err
	}
	p := &r.p
	if p.active {
		if err := r.Skip(); err != nil {
			return "", err
		}
	}
	p.begin()
	if err := r.readLine(); err != nil {
		if err == errTooLong {
			return "", &Error{Kind: KindLineTooLong, Text: "line too long"}
		}
		return "", err
	}
	return string(p.line), nil
}

// Skip discards the rest of the current command so that the next read starts
// at the next command: the rest of the line, every non-synchronizing literal
// and the lines after it, and the unread part of an opened literal. It stops
// at a synchronizing literal whose continuation request was not sent, as the
// client sends no data for it once it has the tagged response (RFC 9051 7.6).
// A refused non-synchronizing literal larger than Options.MaxDiscard makes
// Skip fail with KindIO (RFC 7888 5 lets the server close the connection).
func (r *Reader) Skip() error {
	if r.err != nil {
		return r.err
	}
	p := &r.p
	if !p.active {
		return nil
	}
	for {
		if p.stream > 0 {
			if err := r.discard(p.stream); err != nil {
				return err
			}
			p.stream = 0
		}
		if p.needLine {
			p.needLine = false
			if err := r.readLine(); err == errTooLong {
				p.useTail()
			} else if err != nil {
				return err
			}
		}
		lit, ok := tailLiteral(p.line[p.pos:])
		if !ok || !lit.NonSync {
			break
		}
		if lit.Size > r.opts.MaxDiscard {
			return r.fatal(errDiscard)
		}
		p.pos = len(p.line)
		p.stream = lit.Size
		p.needLine = true
	}
	p.finish()
	return nil
}

// readLine reads the next line into p.line, without its line end (CRLF or a
// bare LF). For a line over MaxLine it reads on to the line end keeping the
// first MaxLine+2 octets in p.line and the last tailKeep in p.tail, and
// returns errTooLong. Other errors are KindIO.
func (r *Reader) readLine() error {
	p := &r.p
	p.line = p.line[:0]
	p.tail = p.tail[:0]
	p.pos = 0
	limit := r.opts.MaxLine + 2
	over := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !over && len(p.line)+len(chunk) > limit {
			over = true
			p.tail = appendTail(p.tail, p.line)
			p.tail = appendTail(p.tail, chunk)
			p.line = append(p.line, chunk[:limit-len(p.line)]...) // the head, for the tag
		} else if over {
			p.tail = appendTail(p.tail, chunk)
		} else {
			p.line = append(p.line, chunk...)
		}
		if err == nil {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && (len(p.line) > 0 || over || p.active) {
			err = io.ErrUnexpectedEOF
		}
		return r.fatal(err)
	}
	if over {
		p.tail = trimEOL(p.tail)
		return errTooLong
	}
	p.line = trimEOL(p.line)
	if len(p.line) > r.opts.MaxLine {
		p.tail = appendTail(p.tail, p.line)
		return errTooLong
	}
	return nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// appendTail appends b to t keeping only the last tailKeep+2 octets (the two
// extra for a line end that trimEOL removes).
func appendTail(t, b []byte) []byte {
	const keep = tailKeep + 2
	if len(b) >= keep {
		return append(t[:0], b[len(b)-keep:]...)
	}
	t = append(t, b...)
	if len(t) > keep {
		n := copy(t, t[len(t)-keep:])
		t = t[:n]
	}
	return t
}

func (r *Reader) discard(n int64) error {
	for n > 0 {
		chunk := n
		if chunk > 1<<30 {
			chunk = 1 << 30
		}
		d, err := r.br.Discard(int(chunk))
		n -= int64(d)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return r.fatal(err)
		}
	}
	return nil
}

// fatal records a KindIO error: the Reader is unusable from now on.
func (r *Reader) fatal(cause error) error {
	if r.err == nil {
		r.err = &Error{Kind: KindIO, Tag: r.p.tag, Text: "connection failed", Err: cause}
	}
	r.p.err = r.err
	return r.err
}

func (r *Reader) cont() error {
	if r.opts.Continue == nil {
		return nil
	}
	if err := r.opts.Continue(); err != nil {
		return r.fatal(err)
	}
	return nil
}
