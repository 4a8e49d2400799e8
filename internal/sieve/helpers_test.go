package sieve

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// crlf turns a test message written with LF line ends into a wire message.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n"))
}

// summary renders an action as one comparable line.
func summary(a Action) string {
	var b strings.Builder
	b.WriteString(string(a.Kind))
	switch a.Kind {
	case FileInto:
		b.WriteString(" " + a.Mailbox)
	case Redirect:
		b.WriteString(" " + a.Address)
	case Reject, EReject:
		b.WriteString(" " + a.Reason)
	case Notify:
		nt := a.Notify
		fmt.Fprintf(&b, " %s to=%s importance=%s message=%q", nt.Method, strings.Join(nt.To, ","), nt.Importance, nt.Message)
		if nt.Headers["body"] != "" {
			fmt.Fprintf(&b, " body=%q", nt.Headers["body"])
		}
	case Reply:
		v := a.Vacation
		fmt.Fprintf(&b, " to=%s from=%s subject=%q period=%s", v.To, v.From, v.Subject, v.Period)
	}
	if a.Copy {
		b.WriteString(" copy")
	}
	if a.Create {
		b.WriteString(" create")
	}
	if len(a.Flags) > 0 {
		b.WriteString(" flags=" + strings.Join(a.Flags, ","))
	}
	if a.Implicit {
		b.WriteString(" implicit")
	}
	return b.String()
}

func summaries(r *Result) []string {
	out := []string{}
	for _, a := range r.Actions {
		out = append(out, summary(a))
	}
	return out
}

// runScript compiles and runs src on msg and returns the action summaries.
func runScript(t *testing.T, src string, msg []byte, envl Envelope, env Env) ([]string, *Result) {
	t.Helper()
	s, err := Compile("test", []byte(src), Options{})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	if env.Now == nil {
		env.Now = func() time.Time { return time.Date(2007, 7, 1, 12, 0, 0, 0, time.UTC) }
	}
	res, err := s.Run(context.Background(), NewMessage(msg, nil, envl), env)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return summaries(res), res
}
