package smtpserver

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	gosasl "github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/xdg-go/scram"

	"gannet/internal/authlimit"
)

// scramClient adapts xdg-go/scram's client to go-sasl's sasl.Client, the
// custom-mechanism hook of go-smtp's client.
type scramClient struct{ cc *scram.ClientConversation }

func newSCRAMClient(t *testing.T, user, pw string) *scramClient {
	t.Helper()
	cl, err := scram.SHA256.NewClient(user, pw, "")
	if err != nil {
		t.Fatal(err)
	}
	return &scramClient{cl.NewConversation()}
}

func (c *scramClient) Start() (string, []byte, error) {
	c1, err := c.cc.Step("")
	return "SCRAM-SHA-256", []byte(c1), err
}

func (c *scramClient) Next(challenge []byte) ([]byte, error) {
	resp, err := c.cc.Step(string(challenge))
	if err != nil {
		return nil, err
	}
	// After the server's signature the answer is empty, but it must be sent.
	return append([]byte{}, resp...), nil
}

// TestSubmissionSCRAM: go-smtp's client authenticates with SCRAM-SHA-256
// after STARTTLS, verifies the server's signature and may then send.
func TestSubmissionSCRAM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	c, err := gosmtp.DialStartTLS(e.addr, e.clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if ok, mechs := c.Extension("AUTH"); !ok || !strings.Contains(" "+mechs+" ", " SCRAM-SHA-256 ") {
		t.Fatalf("AUTH %q", mechs)
	}
	sc := newSCRAMClient(t, "alice@example.org", alicePW)
	if err := c.Auth(sc); err != nil {
		t.Fatalf("SCRAM auth: %v", err)
	}
	if !sc.cc.Valid() {
		t.Error("server signature not verified by the client")
	}
	if err := c.Mail("alice@example.org", nil); err != nil {
		t.Fatalf("MAIL after SCRAM: %v", err)
	}
}

// TestSubmissionBareUserName: a user name without a domain logs in as the
// account of that name in the oldest domain, with PLAIN and with SCRAM, and
// may then send as that account.
func TestSubmissionBareUserName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256"} {
		c, err := gosmtp.DialStartTLS(e.addr, e.clientTLS)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Hello("client.example.net"); err != nil {
			t.Fatal(err)
		}
		if mech == "PLAIN" {
			err = c.Auth(gosasl.NewPlainClient("", "alice", alicePW))
		} else {
			err = c.Auth(newSCRAMClient(t, "alice", alicePW))
		}
		if err != nil {
			t.Fatalf("%s as alice: %v", mech, err)
		}
		if err := c.Mail("alice@example.org", nil); err != nil {
			t.Fatalf("%s: MAIL FROM alice@example.org: %v", mech, err)
		}
		c.Close()
	}
}

// scramWire runs AUTH SCRAM-SHA-256 on the raw wire and returns the final
// reply code and enhanced code.
func scramWire(t *testing.T, w *wire, user, pw string) (int, string) {
	t.Helper()
	cl, _ := scram.SHA256.NewClient(user, pw, "")
	cc := cl.NewConversation()
	c1, _ := cc.Step("")
	w.write("AUTH SCRAM-SHA-256 " + b64(c1) + "\r\n")
	for {
		code, lines, err := w.read()
		if err != nil {
			t.Fatalf("AUTH: %v", err)
		}
		last := lines[len(lines)-1]
		if code != 334 {
			enh, _, _ := strings.Cut(last, " ")
			return code, enh
		}
		ch, err := base64.StdEncoding.DecodeString(last)
		if err != nil {
			t.Fatalf("challenge %q: %v", last, err)
		}
		resp, err := cc.Step(string(ch))
		if err != nil {
			t.Fatalf("client step: %v", err)
		}
		w.write(b64(resp) + "\r\n")
	}
}

func TestSubmissionSCRAMRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Submission)
	w := e.dial()
	w.ehlo()
	// Not before TLS, though SCRAM hides the password (RFC 8314: the session
	// after it would be in the clear).
	w.cmd("AUTH SCRAM-SHA-256 "+b64("n,,n=alice@example.org,r=abcdef"), 538, "5.7.11")
	w.startTLS(e.clientTLS)
	w.ehlo()
	for _, c := range []struct{ user, pw string }{
		{"alice@example.org", "wrong"},
		{"nobody@example.org", alicePW},
	} {
		if code, enh := scramWire(t, w, c.user, c.pw); code != 535 || enh != "5.7.8" {
			t.Errorf("%s: %d %s, want 535 5.7.8", c.user, code, enh)
		}
	}
	// A client that requires channel binding (RFC 5802 6) and a garbled one.
	w.cmd("AUTH SCRAM-SHA-256 "+b64("p=tls-exporter,,n=alice@example.org,r=abcdef"), 535, "5.7.8")
	w.cmd("AUTH SCRAM-SHA-256 "+b64("garbage"), 535, "5.7.8")
	// Cancelled after the server-first message (RFC 4954 4).
	w.cmd("AUTH SCRAM-SHA-256 "+b64("n,,n=alice@example.org,r=abcdef"), 334, "")
	w.cmd("*", 501, "")
	w.cmd("MAIL FROM:<alice@example.org>", 530, "5.7.0")
	if code, enh := scramWire(t, w, "alice@example.org", alicePW); code != 235 {
		t.Errorf("right password: %d %s", code, enh)
	}
}

// TestSCRAMBruteForce: SCRAM failures count in the shared limiter like PLAIN
// ones, delays come before the server-first message, and a blocked client is
// refused at its first SCRAM message even with the right password.
func TestSCRAMBruteForce(t *testing.T) {
	t.Parallel()
	lim := authlimit.New(authlimit.Config{PerMinute: 3, MaxDelay: time.Millisecond})
	d := &delayLog{}
	e := newEnv(t, Submission, d.options(lim))
	w := e.login2()
	for i := range 4 {
		d.attempt(i)
		if code, enh := scramWire(t, w, "alice@example.org", "guess"); code != 535 || enh != "5.7.8" {
			t.Fatalf("failure %d: %d %s", i, code, enh)
		}
	}
	d.attempt(4)
	if code, enh := scramWire(t, w, "alice@example.org", alicePW); code != 454 || enh != "4.7.0" {
		t.Errorf("blocked client: %d %s, want 454 4.7.0", code, enh)
	}
	e.login2().cmd("AUTH PLAIN "+plain("bob@example.org", bobPW), 454, "4.7.0")
	if got := d.delayed(); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("attempts delayed: %v; want none of the first two failures, then the next ones [2 3]", got)
	}
	if _, err := lim.Check(netip.MustParseAddr("127.0.0.1"), ""); !errors.Is(err, authlimit.ErrBlocked) {
		t.Errorf("limiter: %v, want blocked", err)
	}
}
