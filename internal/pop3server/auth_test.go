package pop3server

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"gannet/internal/authlimit"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuthPlain(t *testing.T) {
	t.Parallel()
	good := b64("\x00" + alice + "\x00" + alicePw)
	withAuthz := b64(alice + "\x00" + alice + "\x00" + alicePw)
	cases := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"initial response", func(t *testing.T, e *env) {
			c := e.dial()
			if r := c.ok("AUTH PLAIN " + good); !strings.Contains(r, "1 messages") {
				t.Errorf("AUTH = %q", r)
			}
			c.ok("STAT")
			c.ok("QUIT")
		}},
		{"continuation", func(t *testing.T, e *env) {
			c := e.dial()
			// RFC 5034 4: without an initial response the server sends an empty challenge.
			if r := c.cmd("auth plain"); r != "+ " {
				t.Fatalf("challenge = %q, want %q", r, "+ ")
			}
			c.ok(good)
			c.ok("QUIT")
		}},
		{"authorization identity", func(t *testing.T, e *env) {
			c := e.dial()
			c.ok("AUTH PLAIN " + withAuthz)
			c.ok("QUIT")
			c = e.dial()
			c.fail("AUTH PLAIN "+b64("bob@example.org\x00"+alice+"\x00"+alicePw), "-ERR [AUTH] ")
		}},
		{"wrong password", func(t *testing.T, e *env) {
			c := e.dial()
			c.fail("AUTH PLAIN "+b64("\x00"+alice+"\x00nope"), "-ERR [AUTH] authentication failed")
			c.ok("AUTH PLAIN " + good)
			c.ok("QUIT")
		}},
		{"cancel and malformed", func(t *testing.T, e *env) {
			c := e.dial()
			c.cmd("AUTH PLAIN")
			c.fail("*", "-ERR authentication cancelled")
			c.fail("AUTH PLAIN !!!notbase64", "-ERR invalid base64")
			c.fail("AUTH PLAIN =", "-ERR [AUTH] ") // an empty initial response is malformed PLAIN
			c.fail("AUTH PLAIN "+b64("no nuls here"), "-ERR [AUTH] ")
			c.cmd("AUTH PLAIN")
			c.fail("%%%", "-ERR invalid base64")
			c.fail("AUTH CRAM-MD5", "-ERR unsupported SASL mechanism")
			c.ok("AUTH")
			if got := c.lines(); strings.Join(got, " ") != "PLAIN LOGIN SCRAM-SHA-256" {
				t.Errorf("AUTH listing = %q", got)
			}
			c.ok("AUTH PLAIN " + good)
			c.ok("QUIT")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.secrets = append(e.secrets, good, withAuthz)
			e.deliver(msg("one", "x"))
			tc.run(t, e)
			if logs := e.logs.String(); !strings.Contains(logs, "method=PLAIN") {
				t.Errorf("log does not name the PLAIN login:\n%s", logs)
			}
		})
	}
}

func TestAuthLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.secrets = append(e.secrets, b64(alicePw))
	c := e.dial()
	if r := c.cmd("AUTH LOGIN"); r != "+ "+b64("Username:") {
		t.Fatalf("first challenge %q", r)
	}
	if r := c.cmd(b64(alice)); r != "+ "+b64("Password:") {
		t.Fatalf("second challenge %q", r)
	}
	c.ok(b64(alicePw))
	c.ok("QUIT")

	// With the user name as initial response.
	c = e.dial()
	if r := c.cmd("AUTH LOGIN " + b64(alice)); r != "+ "+b64("Password:") {
		t.Fatalf("challenge after initial response %q", r)
	}
	c.fail(b64("bad"), "-ERR [AUTH] ")
	c.ok("QUIT")
}

func TestLimiterBlocks(t *testing.T) {
	t.Parallel()
	// Two failures per window; the growing delay capped to 1 ms so that the
	// test does not wait.
	lim := authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond})
	e := newEnv(t, withOptions(func(o *Options) { o.Limiter = lim }))
	c := e.dial()
	for range 3 {
		c.ok("USER " + alice)
		c.fail("PASS guess", "-ERR [AUTH] ")
	}
	// Blocked now: even the right password is refused, as temporary.
	c.ok("USER " + alice)
	c.fail("PASS "+alicePw, "-ERR [SYS/TEMP] ")
	c.fail("AUTH PLAIN "+b64("\x00"+alice+"\x00"+alicePw), "-ERR [SYS/TEMP] ")
	if logs := e.logs.String(); !strings.Contains(logs, "too many failed logins") {
		t.Errorf("log does not mention the block:\n%s", logs)
	}
}

func TestPlaintextRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noDev())
	c := e.dial()
	c.fail("USER "+alice, "-ERR [AUTH] plaintext authentication disallowed")
	c.fail("PASS "+alicePw, "-ERR [AUTH] plaintext authentication disallowed")
	c.fail("AUTH PLAIN "+b64("\x00"+alice+"\x00"+alicePw), "-ERR [AUTH] plaintext authentication disallowed")
	c.fail("STLS", "-ERR STLS not available")
	c.ok("QUIT")
}

func TestInUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("one", "x"))
	first := e.login()
	first.ok("DELE 1")
	second := e.dial()
	second.ok("USER " + alice)
	second.fail("PASS "+alicePw, "-ERR [IN-USE] ")
	second.fail("AUTH PLAIN "+b64("\x00"+alice+"\x00"+alicePw), "-ERR [IN-USE] ")
	// The refused session changed nothing; the first one commits at QUIT.
	first.ok("QUIT")
	second.ok("USER " + alice)
	if r := second.ok("PASS " + alicePw); !strings.Contains(r, "0 messages") {
		t.Errorf("after the first session's QUIT: %q", r)
	}
	second.ok("QUIT")
}

func TestLoginDelay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *Options) { o.LoginDelay = time.Hour }))
	c := e.dial()
	c.ok("CAPA")
	if got := c.lines(); !strings.Contains(strings.Join(got, "|"), "|LOGIN-DELAY 3600|") {
		t.Errorf("CAPA = %q, want LOGIN-DELAY 3600", got)
	}
	c.ok("USER " + alice)
	c.ok("PASS " + alicePw)
	c.ok("QUIT")
	c = e.dial()
	c.ok("USER " + alice)
	c.fail("PASS "+alicePw, "-ERR [LOGIN-DELAY] ")
}
