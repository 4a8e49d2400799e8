package smtpclient

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
)

// Reply is one SMTP reply (RFC 5321 4.2): a three-digit code, the enhanced
// status code when the server sent one (RFC 3463, RFC 2034), and the text of
// all its lines joined with "\n".
type Reply struct {
	Code     int
	Enhanced string // "5.1.1", or "" when the server sent none
	Text     string
	// Local marks a reply this client made up without asking the server (for
	// example a message over the server's SIZE limit): it has no remote
	// diagnostic to quote.
	Local bool
}

// Positive reports a 2xx reply.
func (r Reply) Positive() bool { return r.Code >= 200 && r.Code < 300 }

// Temporary reports a 4xx reply (RFC 5321 4.2.1: transient negative completion).
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports a 5xx reply (RFC 5321 4.2.1: permanent negative completion).
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// Status returns the enhanced status code, or one derived from the basic code's
// class (RFC 3463 3.1: X.0.0 when nothing more specific is known).
func (r Reply) Status() string {
	if r.Enhanced != "" {
		return r.Enhanced
	}
	switch {
	case r.Positive():
		return "2.0.0"
	case r.Temporary():
		return "4.0.0"
	default:
		return "5.0.0"
	}
}

// String renders the reply as on the wire, on one line ("550 5.1.1 no such user").
func (r Reply) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%03d", r.Code)
	if r.Enhanced != "" {
		sb.WriteString(" ")
		sb.WriteString(r.Enhanced)
	}
	if r.Text != "" {
		sb.WriteString(" ")
		sb.WriteString(strings.ReplaceAll(r.Text, "\n", " / "))
	}
	return sb.String()
}

// ReplyError is an unexpected reply that ends a step of the session, such as a
// 554 greeting or a refused STARTTLS when TLS is required.
type ReplyError struct {
	Command string // the command that got it ("connect" for the greeting)
	Reply   Reply
}

func (e *ReplyError) Error() string {
	return fmt.Sprintf("smtp: %s: %s", e.Command, e.Reply)
}

// maxReplyLines bounds a multi-line reply; a server that sends more is broken
// or hostile.
const maxReplyLines = 256

// errProtocol marks a reply that does not follow RFC 5321 4.2 syntax.
var errProtocol = errors.New("smtp: malformed reply")

// readReply reads one possibly multi-line reply (RFC 5321 4.2.1: "250-" lines
// continue, "250 " ends; every line carries the same code).
func readReply(br *bufio.Reader) (Reply, error) {
	var r Reply
	var lines []string
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return Reply{}, fmt.Errorf("%w: line too long", errProtocol)
		}
		if err != nil {
			return Reply{}, err
		}
		s := strings.TrimRight(string(line), "\r\n")
		if len(s) < 3 || !digits(s[:3]) || s[0] < '2' || s[0] > '5' {
			return Reply{}, fmt.Errorf("%w: %q", errProtocol, truncate(s))
		}
		code := int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
		if len(lines) > 0 && code != r.Code {
			return Reply{}, fmt.Errorf("%w: code changed within a reply: %q", errProtocol, truncate(s))
		}
		r.Code = code
		last := true
		if len(s) > 3 {
			switch s[3] {
			case ' ':
			case '-':
				last = false
			default:
				return Reply{}, fmt.Errorf("%w: %q", errProtocol, truncate(s))
			}
		}
		text := ""
		if len(s) > 4 {
			text = s[4:]
		}
		// RFC 2034 3: every line of a reply repeats the enhanced code; keep it
		// once, from the first line.
		if enh, rest, ok := splitEnhanced(text, code); ok {
			if len(lines) == 0 {
				r.Enhanced = enh
			}
			text = rest
		}
		lines = append(lines, text)
		if last {
			break
		}
		if len(lines) >= maxReplyLines {
			return Reply{}, fmt.Errorf("%w: more than %d lines", errProtocol, maxReplyLines)
		}
	}
	r.Text = strings.Join(lines, "\n")
	return r, nil
}

// splitEnhanced splits "5.1.1 text" into the enhanced code and the text when
// the code's class matches the basic reply code's first digit (RFC 3463 2:
// class.subject.detail, subject and detail of 1 to 3 digits).
func splitEnhanced(text string, code int) (enh, rest string, ok bool) {
	end := strings.IndexByte(text, ' ')
	if end < 0 {
		end = len(text)
	}
	parts := strings.Split(text[:end], ".")
	if len(parts) != 3 || len(parts[0]) != 1 || int(parts[0][0]-'0') != code/100 {
		return "", "", false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 || !digits(p) {
			return "", "", false
		}
	}
	return text[:end], strings.TrimPrefix(text[end:], " "), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
