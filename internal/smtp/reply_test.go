package smtp

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestReply(t *testing.T) {
	t.Parallel()
	cause := errors.New("database on fire")
	r := LocalError().WithCause(cause)
	if got, want := r.Error(), "451 4.3.0 Local error in processing, try again later"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if strings.Contains(r.Error(), "fire") {
		t.Errorf("Error() leaks the cause: %q", r.Error())
	}
	if !errors.Is(r, cause) {
		t.Errorf("errors.Is(reply, cause) = false")
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", r), LocalError()) {
		t.Errorf("errors.Is(wrapped reply, LocalError()) = false")
	}
	if errors.Is(r, NoSuchUser()) {
		t.Errorf("errors.Is(LocalError, NoSuchUser) = true")
	}
	var got *Reply
	if !errors.As(fmt.Errorf("x: %w", r), &got) || got.Code != 451 {
		t.Errorf("errors.As did not find the reply")
	}
	if !r.Temporary() || r.Permanent() || r.Positive() {
		t.Errorf("451: Temporary %v Permanent %v Positive %v", r.Temporary(), r.Permanent(), r.Positive())
	}
	if !NoSuchUser().Permanent() {
		t.Errorf("550 is not Permanent")
	}
	// WithCause copies: the standard reply is never shared.
	if LocalError().Cause != nil {
		t.Errorf("LocalError() carries a cause from an earlier call")
	}
	v := r.LogValue().String()
	if !strings.Contains(v, "fire") || !strings.Contains(v, "451") {
		t.Errorf("LogValue() = %s, want code and cause", v)
	}
	_ = slog.Any("reply", r)
	if got := NewReply(250, EnhancedCode{}, "OK").Line(); got != "250 OK" {
		t.Errorf("Line() without enhanced code = %q", got)
	}
	if got := RelayDenied().WithText("no %s", "relay").Line(); got != "554 5.7.1 no relay" {
		t.Errorf("WithText: %q", got)
	}
}

func TestStandardReplies(t *testing.T) {
	t.Parallel()
	// The codes the issue and the RFCs ask for.
	tests := []struct {
		r    *Reply
		want string
	}{
		{NoSuchUser(), "550 5.1.1"},
		{RelayDenied(), "554 5.7.1"},
		{MessageTooBig(), "552 5.3.4"},
		{TooManyRecipients(), "452 4.5.3"},
		{AuthRequired(), "530 5.7.0"},
		{AuthFailed(), "535 5.7.8"},
		{SenderNotOwned(), "550 5.7.1"},
		{EncryptionRequired(), "538 5.7.11"},
		{UTF8Required(), "553 5.6.7"},
	}
	for _, tt := range tests {
		if !strings.HasPrefix(tt.r.Line(), tt.want+" ") {
			t.Errorf("%q does not start with %q", tt.r.Line(), tt.want)
		}
		if strings.ContainsAny(tt.r.Text, "\r\n") {
			t.Errorf("%q has a line break", tt.r.Text)
		}
	}
}

func TestParseEnhancedCode(t *testing.T) {
	t.Parallel()
	good := map[string]EnhancedCode{"2.0.0": {2, 0, 0}, "5.7.11": {5, 7, 11}, "4.4.2": {4, 4, 2}, "5.123.999": {5, 123, 999}}
	for s, want := range good {
		got, ok := ParseEnhancedCode(s)
		if !ok || got != want {
			t.Errorf("ParseEnhancedCode(%q) = %v, %v", s, got, ok)
		}
		if got.String() != s {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), s)
		}
	}
	for _, s := range []string{"", "5.1", "3.0.0", "5.1.1.1", "5..1", "55.1.1", "5.1.1000", "5.+1.1", "a.b.c"} {
		if got, ok := ParseEnhancedCode(s); ok {
			t.Errorf("ParseEnhancedCode(%q) = %v, want failure", s, got)
		}
	}
}
