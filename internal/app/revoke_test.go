package app

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"
)

// revokeWait bounds how long a test waits for a session to be ended. The
// watcher polls every revokeInterval (250 ms); the generous bound keeps the
// test from flaking on a loaded machine while still failing when nothing
// ends the session at all.
const revokeWait = 10 * time.Second

// liveSessions is one logged-in session on each protocol for one account.
type liveSessions struct {
	imap, pop3, smtp *lineConn
	web              *http.Client
	webBase          string
}

func openSessions(t *testing.T, a *App, user, pw string) *liveSessions {
	t.Helper()
	s := &liveSessions{}
	s.imap = dialLines(t, listener(t, a, "imap"))
	s.imap.expect("* OK")
	s.imap.send("a LOGIN %s %s", user, pw)
	s.imap.expect("a OK")
	s.imap.send("b SELECT INBOX")
	s.imap.expect("b OK")
	s.imap.send("c IDLE")
	s.imap.expect("+ ")

	s.pop3 = dialLines(t, listener(t, a, "pop3"))
	s.pop3.expect("+OK")
	s.pop3.send("USER %s", user)
	s.pop3.expect("+OK")
	s.pop3.send("PASS %s", pw)
	s.pop3.expect("+OK")

	s.smtp = dialLines(t, listener(t, a, "submission"))
	s.smtp.expect("220 ")
	s.smtp.send("EHLO client.example")
	s.smtp.expect("250 ")
	s.smtp.send("AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pw)))
	s.smtp.expect("235 ")

	s.webBase = "http://" + listener(t, a, "webmail")
	jar, _ := cookiejar.New(nil)
	s.web = &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := s.web.Post(s.webBase+"/api/login", "application/json",
		strings.NewReader(`{"address":"`+user+`","password":"`+pw+`"}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("webmail login: %v %v", resp, err)
	}
	resp.Body.Close()
	if code := s.webStatus(t); code != 200 {
		t.Fatalf("webmail before the change: %d", code)
	}
	return s
}

func (s *liveSessions) webStatus(t *testing.T) int {
	t.Helper()
	resp, err := s.web.Get(s.webBase + "/api/mailboxes")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// expectEnded waits for every session to be ended by the server, each with
// its protocol's own last word.
func (s *liveSessions) expectEnded(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(revokeWait)
	for _, c := range []*lineConn{s.imap, s.pop3, s.smtp} {
		c.c.SetReadDeadline(deadline)
	}
	s.imap.expect("* BYE")
	s.pop3.expect("-ERR")
	s.smtp.expect("421 ")
	for {
		code := s.webStatus(t)
		if code == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webmail still answers %d", code)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAccountChangeEndsSessions (issue 13, finding 1): deleting an account,
// disabling it or changing its password from another process (here: a second
// store opened on the same data directory, as `gannet user del` beside the
// running server does) ends its IMAP, POP3, SMTP submission and webmail
// sessions; after a delete, a new account created in its place gets a new id,
// and the old webmail cookie does not read as it.
func TestAccountChangeEndsSessions(t *testing.T) {
	t.Parallel()
	for _, change := range []string{"delete", "disable", "passwd"} {
		t.Run(change, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			a := testApp(t, "a.test", nil)
			old, err := a.Store.AddAccount(ctx, "eve@a.test", "evepw")
			if err != nil {
				t.Fatal(err)
			}
			s := openSessions(t, a, "eve@a.test", "evepw")

			other, err := OpenStore(ctx, a.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			switch change {
			case "delete":
				err = other.DeleteAccount(ctx, "eve@a.test")
			case "disable":
				err = other.SetDisabled(ctx, "eve@a.test", true)
			case "passwd":
				err = other.SetPassword(ctx, "eve@a.test", "new password")
			}
			if err != nil {
				t.Fatal(err)
			}
			s.expectEnded(t)
			if change != "delete" {
				return
			}
			// Ids are never reused: the next account is not the old one.
			fresh, err := other.AddAccount(ctx, "mallory@a.test", "mallorypw")
			if err != nil {
				t.Fatal(err)
			}
			if fresh.ID == old.ID {
				t.Fatalf("new account reuses the deleted account's id %d", old.ID)
			}
			if code := s.webStatus(t); code != http.StatusUnauthorized {
				t.Fatalf("old cookie after a new account: %d, want 401", code)
			}
		})
	}
}
