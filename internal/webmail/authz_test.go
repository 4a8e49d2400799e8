package webmail

import (
	"fmt"
	"strings"
	"testing"

	"gannet/internal/store"
)

// TestOtherAccountsAreInvisible checks that an account can never read,
// change or even detect another account's mailboxes and messages: every
// request naming them answers exactly like one naming IDs that do not exist.
func TestOtherAccountsAreInvisible(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	bob := e.account("bob@example.org")
	bobInbox := e.mailbox(bob, "INBOX")
	bobTrash := e.mailbox(bob, "Trash")
	bobFolder, err := e.st.CreateMailbox(t.Context(), bob.ID, "Secret", "")
	if err != nil {
		t.Fatal(err)
	}
	bobUID := e.deliver(bob, richMessage("http://remote.example"))
	if _, err := e.st.Copy(t.Context(), bob.ID, bobInbox.ID, nil, bobTrash.ID); err != nil {
		t.Fatal(err)
	}
	aliceInbox := e.mailbox(alice, "INBOX")
	aliceUID := e.deliver(alice, plainMessage(1, "x@example.net"))
	c := e.login("alice@example.org")

	const missing = 987654
	type probe struct {
		method, path, body string
	}
	probes := func(mid int64, uid uint32) []probe {
		m := fmt.Sprintf("/api/mailboxes/%d", mid)
		u := fmt.Sprintf("%s/messages/%d", m, uid)
		uids := fmt.Sprintf(`{"uids":[%d]}`, uid)
		return []probe{
			{"GET", m + "/messages", ""},
			{"GET", m + "/messages?q=rich", ""},
			{"GET", u, ""},
			{"GET", u + "/body", ""},
			{"GET", u + "/parts/2", ""},
			{"POST", m + "/messages/flags", fmt.Sprintf(`{"uids":[%d],"add":["\\Seen"]}`, uid)},
			{"POST", m + "/messages/move", fmt.Sprintf(`{"uids":[%d],"to":%d}`, uid, aliceInbox.ID)},
			{"POST", m + "/messages/delete", uids},
			{"PATCH", m, `{"name":"Stolen"}`},
			{"DELETE", m, ""},
			{"POST", m + "/empty", ""},
			{"GET", m + "/mbox", ""},
		}
	}
	answer := func(p probe) string {
		var body *strings.Reader
		if p.body != "" {
			body = strings.NewReader(p.body)
		} else {
			body = strings.NewReader("")
		}
		st, _, b := c.do(p.method, p.path, body, "application/json")
		return fmt.Sprintf("%d %s", st, b)
	}
	for _, target := range []struct {
		mid int64
		uid uint32
	}{{bobInbox.ID, bobUID}, {bobTrash.ID, 1}, {bobFolder.ID, 1}} {
		theirs := probes(target.mid, target.uid)
		nothing := probes(missing, target.uid)
		for i := range theirs {
			got, want := answer(theirs[i]), answer(nothing[i])
			if got != want || !strings.HasPrefix(got, "404 ") {
				t.Errorf("%s %s: %q; for a missing mailbox: %q", theirs[i].method, theirs[i].path, got, want)
			}
		}
	}
	// Moving one's own message into another account's mailbox.
	mv := func(to int64) string {
		st, _, b := c.do("POST", fmt.Sprintf("/api/mailboxes/%d/messages/move", aliceInbox.ID),
			strings.NewReader(fmt.Sprintf(`{"uids":[%d],"to":%d}`, aliceUID, to)), "application/json")
		return fmt.Sprintf("%d %s", st, b)
	}
	if got, want := mv(bobFolder.ID), mv(missing); got != want || !strings.HasPrefix(got, "404 ") {
		t.Errorf("move into another account's folder: %q, missing: %q", got, want)
	}
	// Attaching or answering another account's message when composing.
	send := func(ref string) string {
		st, b := c.form("/api/drafts", map[string][]string{"to": {"bob@example.org"}, "attach": {ref}}, nil, nil)
		return fmt.Sprintf("%d %s", st, b)
	}
	if got, want := send(fmt.Sprintf("%d:%d:2", bobInbox.ID, bobUID)), send(fmt.Sprintf("%d:%d:2", missing, bobUID)); got != want || !strings.HasPrefix(got, "404 ") {
		t.Errorf("attach another account's part: %q, missing: %q", got, want)
	}
	c.form("/api/send", map[string][]string{"to": {"alice@example.org"}, "answered": {fmt.Sprintf("%d:%d", bobInbox.ID, bobUID)}}, nil, nil)

	// Bob's data is untouched.
	mbs, err := e.st.Mailboxes(t.Context(), bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mbs {
		switch m.Name {
		case "INBOX", "Trash":
			if m.Messages != 1 || m.Unseen != 1 {
				t.Errorf("bob's %s changed: %+v", m.Name, m)
			}
		case "Secret":
		default:
			if m.Messages != 0 {
				t.Errorf("bob's %s has %d messages", m.Name, m.Messages)
			}
		}
	}
	msgs, err := e.st.List(t.Context(), bob.ID, bobInbox.ID, nil, store.ListOptions{})
	if err != nil || len(msgs) != 1 || len(msgs[0].Flags) != 0 {
		t.Errorf("bob's message flags changed: %v %+v", err, msgs)
	}
	// And Alice's list of mailboxes names none of Bob's.
	var list []mailboxJSON
	c.json("GET", "/api/mailboxes", nil, &list)
	for _, m := range list {
		if m.ID == bobInbox.ID || m.ID == bobFolder.ID || m.Name == "Secret" {
			t.Errorf("alice sees bob's mailbox %+v", m)
		}
	}
}
