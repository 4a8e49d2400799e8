package smtpclient_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"gannet/internal/smtpclient"
	"gannet/internal/smtpclient/smtptest"
)

const msg = "From: a@example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello.\r\n.dot line\r\n"

func dial(t *testing.T, addr string, o smtpclient.Options) *smtpclient.Client {
	t.Helper()
	if o.Hostname == "" {
		o.Hostname = "client.test"
	}
	c, err := smtpclient.Dial(context.Background(), nil, addr, "localhost", o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSendPerRecipientResults(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{Rcpt: func(to string) error {
		switch to {
		case "nobody@example.org":
			return smtptest.Refuse(550, "5.1.1", "no such user")
		case "later@example.org":
			return smtptest.Refuse(451, "4.7.1", "greylisted")
		}
		return nil
	}})
	c := dial(t, srv.Addr, smtpclient.Options{})
	if _, ok := c.Extension("PIPELINING"); !ok {
		t.Fatal("go-smtp offers PIPELINING; the client did not see it")
	}
	res, err := c.Send(context.Background(), smtpclient.Envelope{
		From: "a@example.com",
		To:   []smtpclient.Recipient{{Addr: "b@example.org"}, {Addr: "nobody@example.org"}, {Addr: "later@example.org"}},
	}, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{250, 550, 451}
	for i, w := range want {
		if got := res.Outcome(i); got.Code != w {
			t.Errorf("recipient %d: %s, want %d", i, got, w)
		}
	}
	if o := res.Outcome(1); o.Enhanced != "5.1.1" || o.Text != "no such user" || o.Local {
		t.Errorf("outcome 1 = %+v", o)
	}
	m := srv.Wait(t, 1)[0]
	if m.From != "a@example.com" || len(m.To) != 1 || m.To[0] != "b@example.org" {
		t.Errorf("server got from %q to %v", m.From, m.To)
	}
	if string(m.Data) != msg {
		t.Errorf("data = %q, want %q (dot-stuffing undone by the server)", m.Data, msg)
	}
}

func TestConnectionReuse(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := smtptest.Start(t, smtptest.Options{Rcpt: func(to string) error {
		if to == "refused@example.org" {
			return smtptest.Refuse(550, "5.1.1", "no")
		}
		n.Add(1)
		return nil
	}})
	c := dial(t, srv.Addr, smtpclient.Options{})
	ctx := context.Background()
	// An aborted transaction (every recipient refused) in the middle must not
	// disturb the next one: RSET starts each reused transaction.
	for i, to := range []string{"x@example.org", "refused@example.org", "y@example.org", "z@example.org"} {
		res, err := c.Send(ctx, smtpclient.Envelope{From: "a@example.com", To: []smtpclient.Recipient{{Addr: to}}}, []byte(msg))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if want := to != "refused@example.org"; res.Outcome(0).Positive() != want {
			t.Errorf("send %d to %s: %s", i, to, res.Outcome(0))
		}
	}
	if err := c.Quit(ctx); err != nil {
		t.Errorf("quit: %v", err)
	}
	msgs := srv.Wait(t, 3)
	if srv.Connections() != 1 || len(msgs) != 3 {
		t.Errorf("%d connections, %d messages; want 1 and 3", srv.Connections(), len(msgs))
	}
}

func TestStartTLS(t *testing.T) {
	t.Parallel()
	cert := smtptest.SelfSigned(t)
	srv := smtptest.Start(t, smtptest.Options{TLS: cert.Server})
	// Verified against the test certificate's pool: the handshake is real.
	c := dial(t, srv.Addr, smtpclient.Options{TLS: &tls.Config{RootCAs: cert.Pool}})
	st, ok := c.TLSState()
	if !ok || !st.HandshakeComplete {
		t.Fatal("STARTTLS offered but the session is not encrypted")
	}
	if _, ok := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS still listed after the upgrade: EHLO was not repeated (RFC 3207 4.2)")
	}
	if _, err := c.Send(context.Background(), smtpclient.Envelope{From: "a@example.com", To: []smtpclient.Recipient{{Addr: "b@example.org"}}}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if m := srv.Wait(t, 1)[0]; !m.TLS {
		t.Error("server received the message in the clear")
	}
}

func TestStartTLSVerifyFailure(t *testing.T) {
	t.Parallel()
	cert := smtptest.SelfSigned(t)
	srv := smtptest.Start(t, smtptest.Options{TLS: cert.Server})
	// System roots do not trust the test certificate.
	_, err := smtpclient.Dial(context.Background(), nil, srv.Addr, "localhost", smtpclient.Options{Hostname: "c.test", TLS: &tls.Config{}})
	var te *smtpclient.TLSError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v, want a TLSError", err)
	}
}

func TestRequireTLSWithoutOffer(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	_, err := smtpclient.Dial(context.Background(), nil, srv.Addr, "localhost",
		smtpclient.Options{Hostname: "c.test", TLS: &tls.Config{}, RequireTLS: true})
	if err == nil || !strings.Contains(err.Error(), "TLS required") {
		t.Fatalf("err = %v, want TLS required", err)
	}
}

func TestAuthPlain(t *testing.T) {
	t.Parallel()
	cert := smtptest.SelfSigned(t)
	srv := smtptest.Start(t, smtptest.Options{TLS: cert.Server, Users: map[string]string{"relay": "s3cret"}})
	tlsCfg := &tls.Config{RootCAs: cert.Pool}
	c := dial(t, srv.Addr, smtpclient.Options{TLS: tlsCfg, Auth: &smtpclient.Auth{Username: "relay", Password: "s3cret"}})
	if _, err := c.Send(context.Background(), smtpclient.Envelope{From: "a@example.com", To: []smtpclient.Recipient{{Addr: "b@example.org"}}}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if m := srv.Wait(t, 1)[0]; m.User != "relay" {
		t.Errorf("server saw user %q", m.User)
	}
	_, err := smtpclient.Dial(context.Background(), nil, srv.Addr, "localhost",
		smtpclient.Options{Hostname: "c.test", TLS: tlsCfg, Auth: &smtpclient.Auth{Username: "relay", Password: "wrong"}})
	var re *smtpclient.ReplyError
	if !errors.As(err, &re) || re.Reply.Code != 535 {
		t.Fatalf("wrong password: err = %v, want a 535 ReplyError", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error %q reveals the password", err)
	}
}

func TestExtensionParameters(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{DSN: true, SMTPUTF8: true, MaxMessageBytes: 1 << 20})
	c := dial(t, srv.Addr, smtpclient.Options{})
	body := "Subject: caf\xc3\xa9\r\n\r\nd\xc3\xa9j\xc3\xa0 vu\r\n"
	res, err := c.Send(context.Background(), smtpclient.Envelope{
		From:  "jürgen@example.com",
		EnvID: "env+1=2",
		Ret:   "hdrs",
		To: []smtpclient.Recipient{
			{Addr: "b@example.org", Notify: "SUCCESS,FAILURE", ORcpt: "rfc822;orig+tag@example.org"},
			{Addr: "c@example.org", Notify: "NEVER"},
		},
	}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !res.DSN || !res.Outcome(0).Positive() || !res.Outcome(1).Positive() {
		t.Fatalf("result %+v", res)
	}
	m := srv.Wait(t, 1)[0]
	mo := m.MailOpts
	if mo.Size != int64(len(body)) || mo.Body != smtp.Body8BitMIME || !mo.UTF8 || mo.Return != smtp.DSNReturnHeaders || mo.EnvelopeID != "env+1=2" {
		t.Errorf("MAIL options %+v", mo)
	}
	r0, r1 := m.RcptOpts[0], m.RcptOpts[1]
	if len(r0.Notify) != 2 || r0.Notify[0] != smtp.DSNNotifySuccess || r0.OriginalRecipient != "orig+tag@example.org" || r0.OriginalRecipientType != smtp.DSNAddressTypeRFC822 {
		t.Errorf("RCPT 0 options %+v", r0)
	}
	if len(r1.Notify) != 1 || r1.Notify[0] != smtp.DSNNotifyNever {
		t.Errorf("RCPT 1 options %+v", r1)
	}
}

func TestNoDSNParametersWithoutExtension(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{})
	c := dial(t, srv.Addr, smtpclient.Options{})
	res, err := c.Send(context.Background(), smtpclient.Envelope{
		From: "a@example.com", EnvID: "x", Ret: "FULL",
		To: []smtpclient.Recipient{{Addr: "b@example.org", Notify: "SUCCESS", ORcpt: "rfc822;b@example.org"}},
	}, []byte(msg))
	if err != nil || !res.Outcome(0).Positive() {
		t.Fatalf("send: %v %+v", err, res)
	}
	if res.DSN {
		t.Error("Result.DSN true without the extension")
	}
	m := srv.Wait(t, 1)[0]
	if m.MailOpts.EnvelopeID != "" || m.RcptOpts[0].Notify != nil {
		t.Errorf("DSN parameters sent to a server without DSN: %+v %+v", m.MailOpts, m.RcptOpts[0])
	}
}

func TestLocalRefusals(t *testing.T) {
	t.Parallel()
	srv := smtptest.Start(t, smtptest.Options{MaxMessageBytes: 100})
	c := dial(t, srv.Addr, smtpclient.Options{})
	ctx := context.Background()
	res, err := c.Send(ctx, smtpclient.Envelope{From: "a@example.com", To: []smtpclient.Recipient{{Addr: "b@example.org"}}}, []byte(strings.Repeat("x", 200)))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcome(0); o.Code != 552 || o.Enhanced != "5.3.4" || !o.Local {
		t.Errorf("oversized: %+v, want a local 552 5.3.4", o)
	}
	// No SMTPUTF8 offered: a non-ASCII mailbox cannot be sent (RFC 6531 3.5),
	// but the other recipient still goes.
	res, err = c.Send(ctx, smtpclient.Envelope{From: "a@example.com", To: []smtpclient.Recipient{{Addr: "jürgen@example.org"}, {Addr: "b@example.org"}}}, []byte("S: x\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.Outcome(0); o.Enhanced != "5.6.7" || !o.Local {
		t.Errorf("UTF-8 mailbox: %+v", o)
	}
	if o := res.Outcome(1); !o.Positive() {
		t.Errorf("ASCII recipient: %+v", o)
	}
	if got := srv.Wait(t, 1); len(got) != 1 || len(got[0].To) != 1 {
		t.Errorf("server got %+v", got)
	}
}
