package smtp

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// EnhancedCode is an RFC 3463 enhanced status code: class.subject.detail.
// The zero value means "none".
type EnhancedCode [3]int

// IsZero reports whether no enhanced code is set.
func (e EnhancedCode) IsZero() bool { return e == EnhancedCode{} }

// String formats the code as "5.1.1" ("" when zero).
func (e EnhancedCode) String() string {
	if e.IsZero() {
		return ""
	}
	return strconv.Itoa(e[0]) + "." + strconv.Itoa(e[1]) + "." + strconv.Itoa(e[2])
}

// ParseEnhancedCode parses "class.subject.detail" (RFC 3463 2: class 2, 4 or
// 5; subject and detail 1 to 3 digits).
func ParseEnhancedCode(s string) (EnhancedCode, bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return EnhancedCode{}, false
	}
	var e EnhancedCode
	for i, p := range parts {
		if p == "" || len(p) > 3 || (i == 0 && len(p) != 1) {
			return EnhancedCode{}, false
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strings.ContainsAny(p, "+-") {
			return EnhancedCode{}, false
		}
		e[i] = n
	}
	if e[0] != 2 && e[0] != 4 && e[0] != 5 {
		return EnhancedCode{}, false
	}
	return e, true
}

// Reply is an SMTP reply (RFC 5321 4.2): a three-digit code, an optional
// enhanced code, the text the peer sees, and the internal cause, which is for
// logs only. A *Reply is an error so that policy code can return it.
type Reply struct {
	Code     int
	Enhanced EnhancedCode
	Text     string // client-visible; one line, nothing internal
	Cause    error  // internal reason; never sent
}

// NewReply returns a reply without a cause.
func NewReply(code int, enhanced EnhancedCode, text string) *Reply {
	return &Reply{Code: code, Enhanced: enhanced, Text: text}
}

// Error returns the reply as it would appear on the wire (without the cause,
// so that an error string that escapes to a client reveals nothing).
func (r *Reply) Error() string { return r.Line() }

// Line formats "550 5.1.1 text".
func (r *Reply) Line() string {
	var sb strings.Builder
	sb.WriteString(strconv.Itoa(r.Code))
	if !r.Enhanced.IsZero() {
		sb.WriteByte(' ')
		sb.WriteString(r.Enhanced.String())
	}
	if r.Text != "" {
		sb.WriteByte(' ')
		sb.WriteString(r.Text)
	}
	return sb.String()
}

// Unwrap returns the cause, so errors.Is finds what lies beneath a reply.
func (r *Reply) Unwrap() error { return r.Cause }

// Is makes errors.Is(err, smtp.NoSuchUser()) true for any reply with the same
// codes, whatever its text and cause.
func (r *Reply) Is(target error) bool {
	t, ok := target.(*Reply)
	return ok && t.Code == r.Code && t.Enhanced == r.Enhanced
}

// WithCause returns a copy of r carrying the internal cause err.
func (r *Reply) WithCause(err error) *Reply {
	c := *r
	c.Cause = err
	return &c
}

// WithText returns a copy of r with another client text.
func (r *Reply) WithText(format string, args ...any) *Reply {
	c := *r
	c.Text = fmt.Sprintf(format, args...)
	return &c
}

// Temporary reports a 4yz reply: the client should try again later
// (RFC 5321 4.2.1).
func (r *Reply) Temporary() bool { return r.Code/100 == 4 }

// Permanent reports a 5yz reply.
func (r *Reply) Permanent() bool { return r.Code/100 == 5 }

// Positive reports a 2yz or 3yz reply.
func (r *Reply) Positive() bool { return r.Code/100 == 2 || r.Code/100 == 3 }

// LogValue implements slog.LogValuer: code, enhanced code, text and cause.
func (r *Reply) LogValue() slog.Value {
	attrs := []slog.Attr{slog.Int("code", r.Code)}
	if !r.Enhanced.IsZero() {
		attrs = append(attrs, slog.String("enhanced", r.Enhanced.String()))
	}
	attrs = append(attrs, slog.String("text", r.Text))
	if r.Cause != nil {
		attrs = append(attrs, slog.String("cause", r.Cause.Error()))
	}
	return slog.GroupValue(attrs...)
}
