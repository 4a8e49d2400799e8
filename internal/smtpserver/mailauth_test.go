package smtpserver

import (
	"context"
	"strings"
	"testing"

	"gannet/internal/mailauth"
	"gannet/internal/mailauth/mailauthtest"
	"gannet/internal/store"
)

// authEnv is an MX with inbound checks over fake DNS zones: reject.test and
// quarantine.test publish DMARC policies and an SPF record that does not cover
// 127.0.0.1; pass.test's SPF covers it.
func authEnv(t *testing.T) *testEnv {
	t.Helper()
	r := &mailauthtest.Resolver{}
	r.AddTXT("reject.test", "v=spf1 ip4:192.0.2.1 -all")
	r.AddTXT("_dmarc.reject.test", "v=DMARC1; p=reject")
	r.AddTXT("quarantine.test", "v=spf1 ip4:192.0.2.1 -all")
	r.AddTXT("_dmarc.quarantine.test", "v=DMARC1; p=quarantine")
	r.AddTXT("pass.test", "v=spf1 ip4:127.0.0.1 -all")
	r.AddTXT("_dmarc.pass.test", "v=DMARC1; p=reject")
	c, err := mailauth.New(mailauth.Options{Resolver: r, Hostname: "mx.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, MX, func(o *Options) { o.Checker = c })
}

func mailbox(t *testing.T, e *testEnv, a *store.Account, name string) []store.Message {
	t.Helper()
	mb, err := e.st.Mailbox(context.Background(), a.ID, name)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := e.st.List(context.Background(), a.ID, mb.ID, nil, store.ListOptions{Parsed: true})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// TestMXDMARCReject: p=reject and failing SPF/DKIM → 550 5.7.1 at the end of DATA.
func TestMXDMARCReject(t *testing.T) {
	t.Parallel()
	e := authEnv(t)
	w := e.dial()
	w.ehlo()
	w.send("ceo@reject.test", []string{"alice@example.org"}, testMsg("ceo@reject.test", "wire the money"), 550, "5.7.1")
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Fatalf("rejected message stored: %d in INBOX", n)
	}
}

// TestMXDMARCQuarantine: p=quarantine → stored in Junk, not INBOX.
func TestMXDMARCQuarantine(t *testing.T) {
	t.Parallel()
	e := authEnv(t)
	w := e.dial()
	w.ehlo()
	w.send("news@quarantine.test", []string{"alice@example.org"}, testMsg("news@quarantine.test", "offer"), 250, "")
	if n := len(e.inbox(e.alice)); n != 0 {
		t.Fatalf("quarantined message in INBOX")
	}
	junk := mailbox(t, e, e.alice, "Junk")
	if len(junk) != 1 || !strings.Contains(e.raw(junk[0]), "dmarc=fail") {
		t.Fatalf("Junk = %d messages", len(junk))
	}
}

// TestMXAuthenticationResults: a passing message gets our Authentication-Results,
// and one forged with our authserv-id is removed.
func TestMXAuthenticationResults(t *testing.T) {
	t.Parallel()
	e := authEnv(t)
	w := e.dial()
	w.ehlo()
	forged := "Authentication-Results: mx.example.org; dmarc=pass header.from=bank.test\r\n" + testMsg("friend@pass.test", "hello")
	w.send("friend@pass.test", []string{"alice@example.org"}, forged, 250, "")
	msgs := e.inbox(e.alice)
	if len(msgs) != 1 {
		t.Fatalf("INBOX has %d messages", len(msgs))
	}
	raw := e.raw(msgs[0])
	if strings.Count(raw, "Authentication-Results:") != 1 || !strings.Contains(raw, "spf=pass") ||
		!strings.Contains(raw, "dmarc=pass") || strings.Contains(raw, "bank.test") {
		t.Fatalf("stored header:\n%s", raw[:strings.Index(raw, "\r\n\r\n")])
	}
}
