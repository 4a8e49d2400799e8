package pop3server

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
)

// scramAuth runs AUTH SCRAM-SHA-256 (RFC 5034, RFC 7677) with xdg-go/scram's
// client and returns the final +OK/-ERR line. It fails the test if the server
// says +OK before the client has verified the server's signature.
func scramAuth(t *testing.T, c *client, user, pw string) string {
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
	c.send("AUTH SCRAM-SHA-256 " + b64([]byte(c1)) + "\r\n")
	for {
		l := c.line()
		if strings.HasPrefix(l, "+OK") || strings.HasPrefix(l, "-ERR") {
			if strings.HasPrefix(l, "+OK") && !cc.Valid() {
				t.Errorf("+OK before the client verified the server: %q", l)
			}
			return l
		}
		ch, ok := strings.CutPrefix(l, "+ ")
		if !ok {
			t.Fatalf("unexpected line %q", l)
		}
		dec, err := base64.StdEncoding.DecodeString(ch)
		if err != nil {
			t.Fatalf("challenge %q: %v", l, err)
		}
		resp, err := cc.Step(string(dec))
		if err != nil {
			t.Fatalf("client step on %q: %v", dec, err)
		}
		c.send(b64([]byte(resp)) + "\r\n")
	}
}

func TestAuthSCRAM(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.dial()
	if caps := c.ok("CAPA"); caps == "" {
		t.Fatal("no CAPA")
	}
	var sasl string
	for l := c.line(); l != "."; l = c.line() {
		if strings.HasPrefix(l, "SASL ") {
			sasl = l
		}
	}
	if !strings.Contains(sasl, "SCRAM-SHA-256") {
		t.Fatalf("CAPA SASL line %q lacks SCRAM-SHA-256", sasl)
	}
	if r := scramAuth(t, c, alice, alicePw); !strings.HasPrefix(r, "+OK") {
		t.Fatalf("SCRAM with the right password: %q", r)
	}
	c.ok("STAT")
	c.ok("QUIT")

	for _, bad := range []struct{ user, pw string }{{alice, "wrong"}, {"nobody@example.org", alicePw}} {
		c := e.dial()
		if r := scramAuth(t, c, bad.user, bad.pw); !strings.HasPrefix(r, "-ERR [AUTH]") {
			t.Fatalf("SCRAM %s with a bad password: %q", bad.user, r)
		}
		c.ok("QUIT")
	}
}
