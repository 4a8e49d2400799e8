package pop3server

import (
	"strings"
	"testing"
	"time"
)

// TestPreauthTimeout: a connection that does not log in is closed after the
// short pre-authentication timer (issue 13: pre-auth connections get a short
// deadline), while a logged-in session keeps the long autologout timer of RFC
// 1939 3.
func TestPreauthTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *Options) {
		o.Timeout = time.Minute
		o.PreauthTimeout = 150 * time.Millisecond
	}))
	idle := e.dial()
	half := e.dial()
	half.ok("USER " + alice) // USER alone is not a login
	in := e.login()
	for name, c := range map[string]*client{"silent": idle, "after USER": half} {
		if rest := c.expectEOF(); !strings.HasPrefix(rest, "-ERR autologout") {
			t.Errorf("%s connection before login: got %q, want -ERR autologout and close", name, rest)
		}
	}
	// The logged-in session has now been idle for more than twice the
	// pre-authentication timer, and is still served.
	time.Sleep(300 * time.Millisecond)
	if r := in.ok("STAT"); !strings.HasPrefix(r, "+OK ") {
		t.Errorf("STAT after waiting = %q", r)
	}
}
