package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/smtp"
	"slices"
	"strings"
	"testing"
	"time"
)

// lineConn is a line-oriented client for raw protocol scripts.
type lineConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialLines(t *testing.T, addr string) *lineConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &lineConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (l *lineConn) send(format string, args ...any) {
	l.t.Helper()
	if _, err := fmt.Fprintf(l.c, format+"\r\n", args...); err != nil {
		l.t.Fatal(err)
	}
}

// expect reads lines until one starts with prefix and returns it.
func (l *lineConn) expect(prefix string) string {
	l.t.Helper()
	for {
		line, err := l.r.ReadString('\n')
		if err != nil {
			l.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

func smtpDeliver(t *testing.T, a *App, to, subject string) {
	t.Helper()
	msg := "From: x@example.org\r\nTo: " + to + "\r\nSubject: " + subject + "\r\n\r\nbody\r\n"
	if err := smtp.SendMail(listener(t, a, "smtp"), nil, "x@example.org", []string{to}, []byte(msg)); err != nil {
		t.Fatalf("MX: %v", err)
	}
}

func imapIdle(t *testing.T, a *App, user, pw string) *lineConn {
	t.Helper()
	i := dialLines(t, listener(t, a, "imap"))
	i.expect("* OK")
	i.send("a LOGIN %s %s", user, pw)
	i.expect("a OK")
	i.send("b SELECT INBOX")
	i.expect("b OK")
	i.send("c IDLE")
	i.expect("+ ")
	return i
}

// TestPOP3DeleteReachesIMAPIdle: a POP3 session deletes and quits; an IMAP session
// in IDLE on the same INBOX sees the EXPUNGE (issue 5, cross-protocol).
func TestPOP3DeleteReachesIMAPIdle(t *testing.T) {
	t.Parallel()
	a := testApp(t, "a.test", nil)
	if _, err := a.Store.AddAccount(context.Background(), "dora@a.test", "dorapw"); err != nil {
		t.Fatal(err)
	}
	smtpDeliver(t, a, "dora@a.test", "one")
	smtpDeliver(t, a, "dora@a.test", "two")
	i := imapIdle(t, a, "dora@a.test", "dorapw")

	p := dialLines(t, listener(t, a, "pop3"))
	p.expect("+OK")
	p.send("USER dora@a.test")
	p.expect("+OK")
	p.send("PASS dorapw")
	p.expect("+OK")
	p.send("DELE 1")
	p.expect("+OK")
	p.send("QUIT")
	p.expect("+OK")

	i.expect("* 1 EXPUNGE")
	i.send("DONE")
	i.expect("c OK")
	i.send("d STATUS INBOX (MESSAGES)")
	if line := i.expect("* STATUS"); !strings.Contains(line, "MESSAGES 1") {
		t.Fatalf("after POP3 deletion: %s", line)
	}
}

// TestSMTPDuringPOP3Session: a message delivered by SMTP during a POP3 session is
// not in that session's listing (RFC 1939: the maildrop is a snapshot) but is in
// the next one.
func TestSMTPDuringPOP3Session(t *testing.T) {
	t.Parallel()
	a := testApp(t, "a.test", nil)
	if _, err := a.Store.AddAccount(context.Background(), "eve@a.test", "evepw"); err != nil {
		t.Fatal(err)
	}
	smtpDeliver(t, a, "eve@a.test", "before")
	login := func() *lineConn {
		p := dialLines(t, listener(t, a, "pop3"))
		p.expect("+OK")
		p.send("USER eve@a.test")
		p.expect("+OK")
		p.send("PASS evepw")
		p.expect("+OK")
		return p
	}
	p := login()
	p.send("STAT")
	if line := p.expect("+OK"); !strings.HasPrefix(line, "+OK 1 ") {
		t.Fatalf("STAT = %q", line)
	}
	smtpDeliver(t, a, "eve@a.test", "during")
	p.send("STAT")
	if line := p.expect("+OK"); !strings.HasPrefix(line, "+OK 1 ") {
		t.Fatalf("STAT after a delivery during the session = %q, want the snapshot's 1", line)
	}
	p.send("QUIT")
	p.expect("+OK")
	p = login()
	p.send("STAT")
	if line := p.expect("+OK"); !strings.HasPrefix(line, "+OK 2 ") {
		t.Fatalf("STAT in the next session = %q", line)
	}
	p.send("QUIT")
}

// TestWebmailEventsFromIMAPAndSMTP: the webmail's server-sent events report a
// flag set over IMAP and a message delivered over SMTP, with the unread count
// following (issue 6, the seed's "instantly appear on your webmail inbox"; the
// browser tests in internal/webmail show the page renders these events).
func TestWebmailEventsFromIMAPAndSMTP(t *testing.T) {
	t.Parallel()
	a := testApp(t, "a.test", nil)
	if _, err := a.Store.AddAccount(context.Background(), "fay@a.test", "faypw"); err != nil {
		t.Fatal(err)
	}
	smtpDeliver(t, a, "fay@a.test", "first")
	base := "http://" + listener(t, a, "webmail")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.Post(base+"/api/login", "application/json", strings.NewReader(`{"address":"fay@a.test","password":"faypw"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = hc.Get(base + "/api/events")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events: %v %v", resp, err)
	}
	defer resp.Body.Close()
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				ev = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				events <- ev + " " + v
			}
		}
		close(events)
	}()
	next := func(what string) string {
		t.Helper()
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event stream ended waiting for %s", what)
			}
			return e
		case <-time.After(10 * time.Second):
			t.Fatalf("no event for %s within 10 s", what)
		}
		return ""
	}
	// inbox decodes an event and returns INBOX's counts and the change kinds.
	inbox := func(e string) (kind string, messages, unseen int64, kinds []string) {
		t.Helper()
		kind, data, _ := strings.Cut(e, " ")
		var ev struct {
			Mailboxes []struct {
				Name             string
				Messages, Unseen int64
			}
			Changes []struct{ Kind string }
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %q: %v", e, err)
		}
		for _, m := range ev.Mailboxes {
			if m.Name == "INBOX" {
				messages, unseen = m.Messages, m.Unseen
			}
		}
		for _, c := range ev.Changes {
			kinds = append(kinds, c.Kind)
		}
		return kind, messages, unseen, kinds
	}
	if k, n, u, _ := inbox(next("hello")); k != "hello" || n != 1 || u != 1 {
		t.Fatalf("hello: %s INBOX %d messages %d unseen", k, n, u)
	}

	i := dialLines(t, listener(t, a, "imap"))
	i.expect("* OK")
	i.send("a LOGIN fay@a.test faypw")
	i.expect("a OK")
	i.send("b SELECT INBOX")
	i.expect("b OK")
	i.send("c STORE 1 +FLAGS (\\Seen)")
	i.expect("c OK")
	if k, n, u, kinds := inbox(next("the IMAP flag change")); k != "change" || n != 1 || u != 0 || !slices.Contains(kinds, "flags") {
		t.Fatalf("after IMAP STORE: %s %v INBOX %d messages %d unseen", k, kinds, n, u)
	}
	smtpDeliver(t, a, "fay@a.test", "second")
	if k, n, u, kinds := inbox(next("the SMTP delivery")); k != "change" || n != 2 || u != 1 || !slices.Contains(kinds, "new") {
		t.Fatalf("after SMTP delivery: %s %v INBOX %d messages %d unseen", k, kinds, n, u)
	}
}
