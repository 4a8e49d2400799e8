package pop3server

import (
	"strings"
	"testing"
	"time"

	"gannet/internal/authlimit"
)

// TestFailedLoginNameNotLogged (issue 13 finding 9): the user name of a
// failed login (often a password typed into the wrong field) is not logged
// by USER/PASS, AUTH PLAIN, AUTH LOGIN or SCRAM, nor once the client is
// blocked; a keyed hash is. The env's cleanup fails the test if a secret
// appears in the log.
func TestFailedLoginNameNotLogged(t *testing.T) {
	t.Parallel()
	const typed = "Tr0ub4dor-typed-as-name"
	e := newEnv(t, withOptions(func(o *Options) {
		o.Limiter = authlimit.New(authlimit.Config{PerMinute: 3, MaxDelay: time.Millisecond})
	}))
	e.secrets = append(e.secrets, typed, strings.ToLower(typed))
	c := e.dial()
	c.ok("USER " + typed)
	c.fail("PASS wrong", "-ERR [AUTH] ")
	c.fail("AUTH PLAIN "+b64("\x00"+typed+"\x00wrong"), "-ERR [AUTH] ")
	if r := c.cmd("AUTH LOGIN " + b64(typed)); !strings.HasPrefix(r, "+ ") {
		t.Fatalf("AUTH LOGIN: %q", r)
	}
	c.fail(b64("wrong"), "-ERR [AUTH] ")
	if r := scramAuth(t, c, typed, "wrong"); !strings.HasPrefix(r, "-ERR [AUTH] ") {
		t.Fatalf("SCRAM: %q", r)
	}
	c.ok("USER " + typed)
	c.fail("PASS wrong", "-ERR [SYS/TEMP] ")
	if logs := e.logs.String(); strings.Count(logs, "user_hash=") < 5 {
		t.Errorf("failed logins not logged with a hash:\n%s", logs)
	}
}
