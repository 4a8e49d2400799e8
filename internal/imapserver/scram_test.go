package imapserver_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"gannet/internal/authlimit"
	"gannet/internal/imapserver"
)

// scramAuth runs AUTHENTICATE SCRAM-SHA-256 with xdg-go/scram's client on the
// raw wire and returns the tagged answer. It fails the test if the server
// succeeds without proving itself (RFC 5802 section 5: v=).
func scramAuth(t *testing.T, w *wire, tag, user, pw string, ir bool) string {
	t.Helper()
	cl, err := scram.SHA256.NewClient(user, pw, "")
	if err != nil {
		t.Fatal(err)
	}
	cc := cl.NewConversation()
	c1, err := cc.Step("")
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	if ir {
		w.send(tag + " AUTHENTICATE SCRAM-SHA-256 " + b64([]byte(c1)))
	} else {
		w.send(tag + " AUTHENTICATE SCRAM-SHA-256")
		if l := w.line(); l != "+ " {
			t.Fatalf("first challenge = %q", l)
		}
		w.send(b64([]byte(c1)))
	}
	for {
		l := w.line()
		if strings.HasPrefix(l, tag+" ") {
			if strings.HasPrefix(l, tag+" OK") && !cc.Valid() {
				t.Errorf("OK before the client verified the server: %q", l)
			}
			return l
		}
		ch, ok := strings.CutPrefix(l, "+ ")
		if !ok {
			continue // untagged data
		}
		dec, err := base64.StdEncoding.DecodeString(ch)
		if err != nil {
			t.Fatalf("challenge %q: %v", l, err)
		}
		resp, err := cc.Step(string(dec))
		if err != nil {
			t.Fatalf("client step on %q: %v", dec, err)
		}
		w.send(b64([]byte(resp))) // after v=: the empty acknowledgement
	}
}

func TestSCRAMAuthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("advertised", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		if l := w.cmd("a CAPABILITY"); !strings.Contains(l[0], " AUTH=SCRAM-SHA-256") {
			t.Errorf("CAPABILITY = %q", l[0])
		}
	})
	for _, ir := range []bool{true, false} {
		t.Run("ok ir="+map[bool]string{true: "yes", false: "no"}[ir], func(t *testing.T) {
			t.Parallel()
			w := e.dial()
			if done := scramAuth(t, w, "a", testUser, testPass, ir); !strings.HasPrefix(done, "a OK [CAPABILITY ") {
				t.Fatalf("AUTHENTICATE: %q", done)
			}
			w.cmd("b SELECT INBOX")
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		if done := scramAuth(t, w, "a", testUser, "wrong", true); !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("AUTHENTICATE: %q", done)
		}
		// Still not logged in.
		if done, _ := w.status("b SELECT INBOX"); !strings.HasPrefix(done, "b BAD") {
			t.Errorf("SELECT after failure: %q", done)
		}
	})
	t.Run("unknown user", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		if done := scramAuth(t, w, "a", "nobody@example.org", testPass, true); !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("AUTHENTICATE: %q", done)
		}
	})
	t.Run("channel binding required", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		c1 := "p=tls-exporter,,n=" + testUser + ",r=0123456789abcdef"
		done, _ := w.status("a AUTHENTICATE SCRAM-SHA-256 " + base64.StdEncoding.EncodeToString([]byte(c1)))
		if !strings.HasPrefix(done, "a NO") {
			t.Fatalf("p= client: %q", done)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		w := e.dial()
		c1 := "n,,n=" + testUser + ",r=0123456789abcdef"
		w.send("a AUTHENTICATE SCRAM-SHA-256 " + base64.StdEncoding.EncodeToString([]byte(c1)))
		if l := w.line(); !strings.HasPrefix(l, "+ ") {
			t.Fatalf("server-first: %q", l)
		}
		w.send("*")
		if _, done := w.until("a"); !strings.HasPrefix(done, "a BAD") {
			t.Errorf("cancelled: %q", done)
		}
	})
}

// TestSCRAMLimiter: SCRAM failures (wrong password and unknown user alike)
// are counted by the shared limiter, and a blocked client is refused whatever
// mechanism it uses.
func TestSCRAMLimiter(t *testing.T) {
	t.Parallel()
	lim := authlimit.New(authlimit.Config{PerMinute: 2, MaxDelay: time.Millisecond})
	e := newEnv(t, func(o *imapserver.Options) { o.Limiter = lim })
	w := e.dial()
	for i, user := range []string{testUser, "nobody@example.org", testUser} {
		if done := scramAuth(t, w, "a", user, "wrong", true); !strings.HasPrefix(done, "a NO [AUTHENTICATIONFAILED]") {
			t.Fatalf("failure %d: %q", i, done)
		}
	}
	if done := scramAuth(t, w, "b", testUser, testPass, true); !strings.HasPrefix(done, "b NO [UNAVAILABLE]") {
		t.Errorf("blocked SCRAM: %q", done)
	}
	if done, _ := w.status("c AUTHENTICATE PLAIN " + plainIR(testUser, testPass)); !strings.HasPrefix(done, "c NO [UNAVAILABLE]") {
		t.Errorf("blocked PLAIN: %q", done)
	}
}

// TestSCRAMNeedsTLS: outside dev mode SCRAM is offered and accepted only
// after STARTTLS, like the other mechanisms.
func TestSCRAMNeedsTLS(t *testing.T) {
	t.Parallel()
	srvCfg, cliCfg := selfSigned(t)
	e := newEnv(t, func(o *imapserver.Options) { o.TLS = srvCfg; o.Dev = false })
	w := e.dial()
	if l := w.cmd("a CAPABILITY"); strings.Contains(l[0], "SCRAM") {
		t.Errorf("SCRAM offered before TLS: %q", l[0])
	}
	if done, _ := w.status("b AUTHENTICATE SCRAM-SHA-256"); !strings.HasPrefix(done, "b NO [PRIVACYREQUIRED]") {
		t.Errorf("SCRAM before TLS: %q", done)
	}
	w.cmd("c STARTTLS")
	w.startTLS(cliCfg)
	if l := w.cmd("d CAPABILITY"); !strings.Contains(l[0], " AUTH=SCRAM-SHA-256") {
		t.Errorf("SCRAM not offered under TLS: %q", l[0])
	}
	if done := scramAuth(t, w, "e", testUser, testPass, false); !strings.HasPrefix(done, "e OK") {
		t.Errorf("SCRAM under TLS: %q", done)
	}
}
