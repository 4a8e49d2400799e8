package webmail

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

// stream is an open /api/events connection.
type stream struct {
	t   testing.TB
	res *http.Response
	r   *bufio.Reader
}

func (c *client) events() *stream {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/api/events", nil)
	// No client timeout: the stream is long-lived; the test's deadline bounds it.
	hc := &http.Client{Jar: c.hc.Jar}
	res, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		c.t.Fatalf("events: %d %v", res.StatusCode, res.Header)
	}
	c.t.Cleanup(func() { res.Body.Close() })
	return &stream{t: c.t, res: res, r: bufio.NewReader(res.Body)}
}

// next returns the next event's name and data, skipping comments and retry lines.
func (s *stream) next() (string, eventJSON) {
	s.t.Helper()
	var name, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			s.t.Fatalf("read event: %v", err)
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			name = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = line[6:]
		case line == "" && name != "":
			var ev eventJSON
			json.Unmarshal([]byte(data), &ev)
			return name, ev
		}
	}
}

func unseenOf(ev eventJSON, id int64) int64 {
	for _, m := range ev.Mailboxes {
		if m.ID == id {
			return m.Unseen
		}
	}
	return -1
}

func TestEventsFollowTheStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	bob := e.account("bob@example.org")
	inbox := e.mailbox(alice, "INBOX")
	c := e.login("alice@example.org")
	s := c.events()
	if name, ev := s.next(); name != "hello" || unseenOf(ev, inbox.ID) != 0 {
		t.Fatalf("first event %q %+v", name, ev)
	}
	// Another account's delivery is not seen: the next event must be Alice's.
	e.deliver(bob, plainMessage(0, "x@example.net"))
	uid := e.deliver(alice, plainMessage(1, "x@example.net"))
	name, ev := s.next()
	if name != "change" || unseenOf(ev, inbox.ID) != 1 || len(ev.Changes) != 1 ||
		ev.Changes[0].MailboxID != inbox.ID || ev.Changes[0].Kind != "new" || !slices.Equal(ev.Changes[0].UIDs, []uint32{uid}) {
		t.Fatalf("after delivery: %q %+v", name, ev)
	}
	// A flag set as IMAP would.
	if _, err := e.st.StoreFlags(t.Context(), alice.ID, inbox.ID, store.UIDSet{{Lo: uid, Hi: uid}}, store.FlagsAdd, []string{store.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	name, ev = s.next()
	if name != "change" || unseenOf(ev, inbox.ID) != 0 || ev.Changes[0].Kind != "flags" || ev.Changes[0].UIDs[0] != uid {
		t.Fatalf("after flag: %q %+v", name, ev)
	}
	// A deletion as POP3 would.
	if _, err := e.st.ExpungeUIDs(t.Context(), alice.ID, inbox.ID, []uint32{uid}); err != nil {
		t.Fatal(err)
	}
	name, ev = s.next()
	if name != "change" || ev.Changes[0].Kind != "expunge" || ev.Mailboxes[0].Messages != 0 {
		t.Fatalf("after expunge: %q %+v", name, ev)
	}
	// A folder created elsewhere.
	if _, err := e.st.CreateMailbox(t.Context(), alice.ID, "New", ""); err != nil {
		t.Fatal(err)
	}
	name, ev = s.next()
	if name != "change" || ev.Changes[0].Kind != "mailbox" || len(ev.Mailboxes) != len(store.DefaultMailboxes)+1 {
		t.Fatalf("after create: %q %+v", name, ev)
	}
	// Logging out ends the stream with "bye".
	c.json("POST", "/api/logout", nil, nil)
	if name, _ := s.next(); name != "bye" {
		t.Fatalf("after logout: %q", name)
	}
}

func TestShutdownEndsEventStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.account("alice@example.org")
	c := e.login("alice@example.org")
	s := c.events()
	if name, _ := s.next(); name != "hello" {
		t.Fatalf("first event %q", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with an open event stream: %v", err)
	}
	if name, _ := s.next(); name != "bye" {
		t.Fatalf("at shutdown: %q", name)
	}
}
