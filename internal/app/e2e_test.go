package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"gannet/internal/config"
	"gannet/internal/store"
)

// testApp starts a whole Gannet on loopback ports with its own data directory.
func testApp(t *testing.T, domain string, transports map[string]string) *App {
	t.Helper()
	cfg := config.DevConfig(t.TempDir())
	cfg.Hostname = "mx." + domain
	cfg.Domains = []string{domain}
	cfg.TLS = config.TLS{}
	cfg.Listeners = config.Listeners{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", HTTP: "127.0.0.1:0",
		IMAP: "127.0.0.1:0", POP3: "127.0.0.1:0"}
	cfg.Queue.Transports = transports
	cfg.Queue.RetrySchedule = []config.Duration{{Duration: 200 * time.Millisecond}}
	a, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func listener(t *testing.T, a *App, name string) string {
	t.Helper()
	for _, l := range a.Listeners() {
		if l.Name == name {
			return l.Addr
		}
	}
	t.Fatalf("no %s listener", name)
	return ""
}

// waitMessage polls the account's INBOX until a message arrives.
func waitMessage(t *testing.T, a *App, addr string) []byte {
	t.Helper()
	ctx := context.Background()
	acct, err := a.Store.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := a.Store.Mailbox(ctx, acct.ID, "INBOX")
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		msgs, err := a.Store.List(ctx, acct.ID, inbox.ID, nil, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) > 0 {
			rc, err := a.Store.Open(ctx, msgs[0].BlobID)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, _ := io.ReadAll(rc)
			return b
		}
		a.Queue.Kick()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no message for %s within 20 s", addr)
	return nil
}

// TestTwoServers: a user of server A submits to an address of server B; A's
// queue delivers it through the transport override to B's MX; it arrives
// intact, with A's Received field, DKIM-signed with both of A's keys, and the
// signatures verify against the records `gannet domain dns` would publish.
func TestTwoServers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testApp(t, "b.test", nil)
	if _, err := b.Store.AddAccount(ctx, "bob@b.test", "bobpw"); err != nil {
		t.Fatal(err)
	}
	a := testApp(t, "a.test", map[string]string{"b.test": listener(t, b, "smtp")})
	if _, err := a.Store.AddAccount(ctx, "alice@a.test", "alicepw"); err != nil {
		t.Fatal(err)
	}
	body := "Hello Bob,\r\n\r\nThis crossed two Gannet servers.\r\n.leading dot survives\r\n"
	msg := "From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: across servers\r\n\r\n" + body
	auth := smtp.PlainAuth("", "alice@a.test", "alicepw", "127.0.0.1")
	if err := smtp.SendMail(listener(t, a, "submission"), auth, "alice@a.test", []string{"bob@b.test"}, []byte(msg)); err != nil {
		t.Fatalf("submit: %v", err)
	}
	got := waitMessage(t, b, "bob@b.test")
	if !bytes.HasSuffix(got, []byte(body)) || !bytes.Contains(got, []byte("Subject: across servers\r\n")) {
		t.Fatalf("message altered:\n%s", got)
	}
	if !bytes.Contains(got, []byte("by mx.a.test")) || !bytes.Contains(got, []byte("by mx.b.test")) {
		t.Errorf("Received fields of both servers missing:\n%s", got)
	}
	// DKIM: both signatures verify with the published keys.
	recs, err := DNSRecords(ctx, a.Store, "a.test", "mx.a.test")
	if err != nil {
		t.Fatal(err)
	}
	txt := map[string][]string{}
	for _, r := range recs {
		if r.Type == "TXT" {
			txt[strings.TrimSuffix(r.Name, ".")] = append(txt[strings.TrimSuffix(r.Name, ".")], unquoteTXT(r.Data))
		}
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(got), &dkim.VerifyOptions{
		LookupTXT: func(name string) ([]string, error) {
			if v, ok := txt[name]; ok {
				return v, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if v.Err != nil || v.Domain != "a.test" {
			t.Errorf("DKIM signature by %s: %v", v.Domain, v.Err)
		}
	}
	if len(vs) != 2 {
		t.Fatalf("%d DKIM signatures, want 2 (Ed25519 and RSA)", len(vs))
	}
	if !bytes.Contains(got, []byte("a=ed25519-sha256")) || !bytes.Contains(got, []byte("a=rsa-sha256")) {
		t.Fatalf("signatures are not one Ed25519 and one RSA:\n%s", got)
	}
}

// unquoteTXT joins the quoted strings of a zone-file TXT value.
func unquoteTXT(data string) string {
	var sb strings.Builder
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			in = !in
		case c == '\\' && in && i+1 < len(data):
			i++
			sb.WriteByte(data[i])
		case in:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// TestTwoServersBounce: B refuses an unknown recipient with 550 5.1.1 at RCPT;
// A's queue turns that into an RFC 3464 DSN in the sender's INBOX.
func TestTwoServersBounce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testApp(t, "b.test", nil)
	a := testApp(t, "a.test", map[string]string{"b.test": listener(t, b, "smtp")})
	if _, err := a.Store.AddAccount(ctx, "alice@a.test", "alicepw"); err != nil {
		t.Fatal(err)
	}
	msg := "From: alice@a.test\r\nTo: nobody@b.test\r\nSubject: into the void\r\n\r\nanyone?\r\n"
	auth := smtp.PlainAuth("", "alice@a.test", "alicepw", "127.0.0.1")
	if err := smtp.SendMail(listener(t, a, "submission"), auth, "alice@a.test", []string{"nobody@b.test"}, []byte(msg)); err != nil {
		t.Fatalf("submit: %v", err)
	}
	dsn := string(waitMessage(t, a, "alice@a.test"))
	for _, want := range []string{"multipart/report", "report-type=delivery-status", "message/delivery-status",
		"Final-Recipient: rfc822; nobody@b.test", "Action: failed", "Status: 5.1.1"} {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q:\n%s", want, dsn)
		}
	}
}

// TestIMAPIdleSeesSMTPDelivery: the promise of the seed, across the whole binary:
// a message received by the MX reaches an IMAP session waiting in IDLE.
func TestIMAPIdleSeesSMTPDelivery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := testApp(t, "a.test", nil)
	if _, err := a.Store.AddAccount(ctx, "carol@a.test", "carolpw"); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", listener(t, a, "imap"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	expect := func(prefix string) string {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("waiting for %q: %v", prefix, err)
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		}
	}
	expect("* OK")
	fmt.Fprintf(c, "a LOGIN carol@a.test carolpw\r\n")
	expect("a OK")
	fmt.Fprintf(c, "b SELECT INBOX\r\n")
	expect("b OK")
	fmt.Fprintf(c, "c IDLE\r\n")
	expect("+ ")
	msg := "From: x@example.org\r\nTo: carol@a.test\r\nSubject: push\r\n\r\nhi\r\n"
	if err := smtp.SendMail(listener(t, a, "smtp"), nil, "x@example.org", []string{"carol@a.test"}, []byte(msg)); err != nil {
		t.Fatalf("MX: %v", err)
	}
	expect("* 1 EXISTS")
	fmt.Fprintf(c, "DONE\r\n")
	expect("c OK")
}

// TestWebmailSendsThroughSubmission: a message composed in the webmail takes the
// submission path: DKIM-signed, queued for the remote recipient, delivered to
// server B, and a copy saved in Sent; a forged From is refused.
func TestWebmailSendsThroughSubmission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testApp(t, "b.test", nil)
	if _, err := b.Store.AddAccount(ctx, "bob@b.test", "bobpw"); err != nil {
		t.Fatal(err)
	}
	a := testApp(t, "a.test", map[string]string{"b.test": listener(t, b, "smtp")})
	alice, err := a.Store.AddAccount(ctx, "alice@a.test", "alicepw")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + listener(t, a, "webmail")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.Post(base+"/api/login", "application/json", strings.NewReader(`{"address":"alice@a.test","password":"alicepw"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	var sess struct{ CSRF string }
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	send := func(fields map[string]string) *http.Response {
		t.Helper()
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		req, _ := http.NewRequest("POST", base+"/api/send", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("X-CSRF-Token", sess.CSRF)
		req.Header.Set("Origin", base)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := send(map[string]string{"from": "alice@a.test", "to": "bob@b.test", "subject": "from the webmail", "text": "Sent from a browser."}); r.StatusCode/100 != 2 {
		t.Fatalf("send: %s", r.Status)
	}
	got := waitMessage(t, b, "bob@b.test")
	if !bytes.Contains(got, []byte("Subject: from the webmail")) || !bytes.Contains(got, []byte("Sent from a browser.")) ||
		!bytes.Contains(got, []byte("DKIM-Signature:")) || !bytes.Contains(got, []byte("by mx.a.test")) {
		t.Fatalf("received at B:\n%s", got)
	}
	sent, err := a.Store.Mailbox(ctx, alice.ID, "Sent")
	if err != nil || sent.Messages != 1 {
		t.Fatalf("Sent has %v messages (%v)", sent, err)
	}
	// A From address the account does not own is refused by the sender checks.
	if r := send(map[string]string{"from": "ceo@b.test", "to": "bob@b.test", "subject": "x", "text": "y"}); r.StatusCode/100 == 2 {
		t.Fatalf("forged From accepted: %s", r.Status)
	}
}
