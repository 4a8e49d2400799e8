package imapwire

import (
	"errors"
	"fmt"
)

// ErrorKind says what a server should do about an *Error.
type ErrorKind uint8

const (
	// KindSyntax is malformed input: answer BAD, call Reader.Skip, go on.
	KindSyntax ErrorKind = iota + 1
	// KindLineTooLong is a line longer than Options.MaxLine, or a command
	// longer than Options.MaxCommand: answer BAD, call Reader.Skip, go on.
	KindLineTooLong
	// KindLiteralTooLarge is a literal over a limit. Its data has not been
	// read: answer NO [TOOBIG] (synchronizing; RFC 7889, RFC 4469) or
	// BAD [TOOBIG] (non-synchronizing, RFC 7888 5), call Reader.Skip, go on.
	KindLiteralTooLarge
	// KindIO means the connection is unusable: close it.
	KindIO
	// KindBadName is a mailbox name that is not valid modified UTF-7 (RFC
	// 3501 5.1.3). No mailbox can have it, so it names none: answer NO
	// [NONEXISTENT] (or the code SetCode chose), call Reader.Skip, go on.
	// It is not bad protocol and does not count towards the BAD limit.
	KindBadName
)

func (k ErrorKind) String() string {
	switch k {
	case KindSyntax:
		return "syntax"
	case KindLineTooLong:
		return "line too long"
	case KindLiteralTooLarge:
		return "literal too large"
	case KindIO:
		return "i/o"
	case KindBadName:
		return "bad mailbox name"
	}
	return fmt.Sprintf("ErrorKind(%d)", uint8(k))
}

// Error is every error the Reader and Parser return.
type Error struct {
	Kind ErrorKind
	// Tag is the tag of the command the error belongs to, "" when it is not
	// known (the server then answers untagged "* BAD").
	Tag string
	// Text is safe to show the client: it says what was wrong with the input
	// and nothing about the server.
	Text string
	// Literal describes the refused literal for KindLiteralTooLarge.
	Literal Literal
	// Err is the cause of a KindIO error (io.EOF for a clean close).
	Err error
	// code replaces the response code of a KindBadName error (SetCode).
	code string
}

// SetCode makes a KindBadName error answer with code and text instead of
// NONEXISTENT (CREATE refuses such a name with CANNOT).
func (e *Error) SetCode(code, text string) { e.code, e.Text = code, text }

func (e *Error) Error() string {
	s := "imapwire: " + e.Kind.String()
	if e.Text != "" {
		s += ": " + e.Text
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the response condition the server should answer with: "NO" for a
// refused synchronizing literal or a mailbox name no mailbox can have, else
// "BAD".
func (e *Error) Status() string {
	if e.Kind == KindLiteralTooLarge && !e.Literal.NonSync || e.Kind == KindBadName {
		return "NO"
	}
	return "BAD"
}

// Code is the response code to send with Status ("TOOBIG" for literals that
// are too large, RFC 7888 5), or "".
func (e *Error) Code() string {
	switch e.Kind {
	case KindLiteralTooLarge:
		return "TOOBIG"
	case KindBadName:
		if e.code != "" {
			return e.code
		}
		return "NONEXISTENT"
	}
	return ""
}

// IsFatal reports whether err means the connection must be closed: it is not
// an *Error, or it is one of KindIO.
func IsFatal(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	return !errors.As(err, &e) || e.Kind == KindIO
}

// errDiscard is the cause of the KindIO error Skip returns when a refused
// non-synchronizing literal is larger than Options.MaxDiscard.
var errDiscard = errors.New("refused non-synchronizing literal too large to discard")
