package pop3server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// srcBufSize is the read buffer for message bytes: a line longer than this is
// sent in pieces, so memory stays bounded whatever the message.
const srcBufSize = 32 << 10

// copyBody writes the message read from src to dst as the body of a POP3
// multi-line response (RFC 1939 3), without the terminating ".CRLF":
//
//   - every line ends in CRLF: a bare LF becomes CRLF, and a last line without
//     a line break gets one (a bare CR just before it is taken as its CR);
//   - a line that starts with "." gets one more "." (byte-stuffing).
//
// With bodyLines >= 0 it stops after the header, the blank line that ends it,
// and bodyLines lines of the body (TOP, RFC 1939 7). It returns the number of
// octets the client receives after un-stuffing; for the whole message that is
// wireSize of the same bytes. A read error is wrapped as a sourceError.
func copyBody(dst *bufio.Writer, src *bufio.Reader, bodyLines int64) (int64, error) {
	if bodyLines < 0 {
		return copyWhole(dst, src)
	}
	var n int64
	lineStart := true // the next byte starts a line
	lineLen := 0      // octets of the current line so far, its line break excluded
	pendingCR := false
	inHeader := true
	var body int64
	for {
		seg, rerr := src.ReadSlice('\n')
		if len(seg) > 0 {
			complete := seg[len(seg)-1] == '\n'
			content := seg
			if complete {
				content = seg[:len(seg)-1]
			}
			if pendingCR {
				// A CR ended the previous piece of this line: it is a line
				// break's CR if this piece is just the LF, else it is data.
				pendingCR = false
				if !complete || len(content) > 0 {
					if err := dst.WriteByte('\r'); err != nil {
						return n, err
					}
					n++
					lineLen++
				}
			}
			if complete {
				content = bytes.TrimSuffix(content, []byte{'\r'})
			} else if content[len(content)-1] == '\r' {
				// Hold it back: the next piece says whether it ends the line.
				content = content[:len(content)-1]
				pendingCR = true
			}
			if lineStart && len(content) > 0 && content[0] == '.' {
				if err := dst.WriteByte('.'); err != nil {
					return n, err
				}
			}
			if _, err := dst.Write(content); err != nil {
				return n, err
			}
			n += int64(len(content))
			lineLen += len(content)
			lineStart = false
			if complete {
				if _, err := dst.WriteString("\r\n"); err != nil {
					return n, err
				}
				n += 2
				lineStart = true
				if bodyLines >= 0 {
					if inHeader {
						inHeader = lineLen != 0
						if !inHeader && bodyLines == 0 {
							return n, nil
						}
					} else if body++; body >= bodyLines {
						return n, nil
					}
				}
				lineLen = 0
			}
		}
		switch {
		case rerr == nil, errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case errors.Is(rerr, io.EOF):
			if pendingCR || !lineStart {
				if _, err := dst.WriteString("\r\n"); err != nil {
					return n, err
				}
				n += 2
			}
			return n, nil
		default:
			return n, sourceError{rerr}
		}
	}
}

// copyWhole is copyBody for a whole message (RETR). Stored messages almost
// always have CRLF line ends and few lines that start with ".", so instead of
// handling the message line by line it scans what the reader has buffered for
// the only places that need a change (a "." at the start of a line, an LF
// without its CR) and writes the runs between them with one call each: one
// Write per 32 KiB for a typical message, where the line loop made three per
// line. The output is the same as the line loop's (FuzzCopyBody checks both
// against the RFC 1939 reference).
func copyWhole(dst *bufio.Writer, src *bufio.Reader) (int64, error) {
	var n int64
	lineStart := true // the next byte starts a line
	prevCR := false   // the last byte already copied was a CR
	for {
		if _, err := src.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return n, sourceError{err}
		}
		chunk, _ := src.Peek(src.Buffered())
		start := 0 // chunk[start:i] is copied but not yet written
		for i := 0; i < len(chunk); {
			if chunk[i] == '.' && ((i == 0 && lineStart) || (i > 0 && chunk[i-1] == '\n')) {
				// RFC 1939 3: byte-stuff a line that starts with ".".
				if _, err := dst.Write(chunk[start:i]); err != nil {
					return n, err
				}
				if err := dst.WriteByte('.'); err != nil {
					return n, err
				}
				start = i
			}
			j := bytes.IndexByte(chunk[i:], '\n')
			if j < 0 {
				break
			}
			j += i
			if cr := (j > 0 && chunk[j-1] == '\r') || (j == 0 && prevCR); !cr {
				// A bare LF goes out as CRLF.
				if _, err := dst.Write(chunk[start:j]); err != nil {
					return n, err
				}
				if err := dst.WriteByte('\r'); err != nil {
					return n, err
				}
				n++
				start = j
			}
			i = j + 1
		}
		if _, err := dst.Write(chunk[start:]); err != nil {
			return n, err
		}
		n += int64(len(chunk))
		last := chunk[len(chunk)-1]
		lineStart, prevCR = last == '\n', last == '\r'
		if _, err := src.Discard(len(chunk)); err != nil {
			return n, sourceError{err}
		}
	}
	if !lineStart {
		// An unterminated last line gets its line break; a CR just before
		// the end is taken as that break's CR.
		end := "\r\n"
		if prevCR {
			end = "\n"
		}
		if _, err := dst.WriteString(end); err != nil {
			return n, err
		}
		n += int64(len(end))
	}
	return n, nil
}

// sourceError is a failure reading the message from the store (as opposed to
// writing it to the client).
type sourceError struct{ err error }

func (e sourceError) Error() string { return fmt.Sprintf("read message: %v", e.err) }
func (e sourceError) Unwrap() error { return e.err }

// wireSize returns the size copyBody reports for the whole message, without
// writing anything: the stored size, plus one octet per bare LF, plus the line
// break added to an unterminated last line (RFC 1939 5 LIST "exact size").
func wireSize(src io.Reader, buf []byte) (int64, error) {
	var n, extra int64
	var last byte
	for {
		k, err := src.Read(buf)
		if k > 0 {
			p := buf[:k]
			prev := last
			for {
				i := bytes.IndexByte(p, '\n')
				if i < 0 {
					break
				}
				if (i == 0 && prev != '\r') || (i > 0 && p[i-1] != '\r') {
					extra++
				}
				prev = '\n'
				p = p[i+1:]
			}
			n += int64(k)
			last = buf[k-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, sourceError{err}
		}
	}
	switch {
	case n == 0 || last == '\n':
	case last == '\r':
		extra++ // the CR becomes the CR of the added CRLF
	default:
		extra += 2
	}
	return n + extra, nil
}
