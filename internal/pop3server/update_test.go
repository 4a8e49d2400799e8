package pop3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

// TestPolicies checks what DELE+QUIT does under each account policy.
func TestPolicies(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{store.POP3Delete, store.POP3Archive, store.POP3Keep} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if err := e.st.SetPOP3Policy(context.Background(), alice, policy); err != nil {
				t.Fatal(err)
			}
			var uids []uint32
			for i := range 4 {
				uids = append(uids, e.deliver(msg(fmt.Sprintf("m%d", i), "body")))
			}
			c := e.login()
			c.ok("DELE 1")
			c.ok("DELE 3")
			if r := c.ok("QUIT"); !strings.Contains(r, "2 messages left") {
				t.Errorf("QUIT = %q", r)
			}
			c.expectEOF()

			archive := e.mailbox("Archive")
			inbox, archived := e.inboxUIDs(), e.uids(archive.ID)
			switch policy {
			case store.POP3Delete:
				if want := []uint32{uids[1], uids[3]}; !slices.Equal(inbox, want) {
					t.Errorf("INBOX = %v, want %v", inbox, want)
				}
				if len(archived) != 0 {
					t.Errorf("Archive = %v, want empty", archived)
				}
			case store.POP3Archive:
				if want := []uint32{uids[1], uids[3]}; !slices.Equal(inbox, want) {
					t.Errorf("INBOX = %v, want %v", inbox, want)
				}
				if len(archived) != 2 {
					t.Errorf("Archive has %v, want the 2 deleted messages", archived)
				}
			case store.POP3Keep:
				if !slices.Equal(inbox, uids) {
					t.Errorf("INBOX = %v, want all of %v kept for IMAP", inbox, uids)
				}
				list, _ := e.st.List(context.Background(), e.acct.ID, e.inbox, nil, store.ListOptions{})
				for _, m := range list {
					if hidden := m.UID == uids[0] || m.UID == uids[2]; m.POPHidden != hidden {
						t.Errorf("uid %d POPHidden = %v, want %v", m.UID, m.POPHidden, hidden)
					}
				}
			}
			// Whatever the policy, the next POP3 session sees the two others.
			c = e.login()
			if r := c.ok("STAT"); !strings.HasPrefix(r, "+OK 2 ") {
				t.Errorf("next session STAT = %q", r)
			}
			uv := e.mailbox("INBOX").UIDValidity
			c.ok("UIDL")
			want := []string{fmt.Sprintf("1 %d.%d", uv, uids[1]), fmt.Sprintf("2 %d.%d", uv, uids[3])}
			if got := c.lines(); !slices.Equal(got, want) {
				t.Errorf("next session UIDL = %q, want %q", got, want)
			}
			c.ok("QUIT")
		})
	}
}

func TestArchiveMailboxMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.SetPOP3Policy(ctx, alice, store.POP3Archive); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteMailbox(ctx, e.acct.ID, "Archive"); err != nil {
		t.Fatal(err)
	}
	e.deliver(msg("a", "x"))
	c := e.login()
	c.ok("DELE 1")
	c.ok("QUIT")
	mb := e.mailbox("Archive")
	if mb.SpecialUse != store.SpecialArchive || len(e.uids(mb.ID)) != 1 {
		t.Errorf("Archive re-created as %+v with %v", mb, e.uids(mb.ID))
	}
	if n := len(e.inboxUIDs()); n != 0 {
		t.Errorf("INBOX has %d messages", n)
	}
}

func TestDroppedConnectionDeletesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var uids []uint32
	for i := range 3 {
		uids = append(uids, e.deliver(msg(fmt.Sprint(i), "x")))
	}
	c := e.login()
	for i := range 3 {
		c.ok(fmt.Sprintf("DELE %d", i+1))
	}
	c.nc.Close() // no QUIT: no UPDATE state (RFC 1939 6)
	e.waitIdle()
	if got := e.inboxUIDs(); !slices.Equal(got, uids) {
		t.Errorf("INBOX after a dropped connection = %v, want %v", got, uids)
	}
	c = e.login() // the lock was released
	if r := c.ok("STAT"); !strings.HasPrefix(r, "+OK 3 ") {
		t.Errorf("STAT = %q", r)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withOptions(func(o *Options) { o.Timeout = 100 * time.Millisecond }))
	uid := e.deliver(msg("a", "x"))
	c := e.login()
	c.ok("DELE 1")
	// Say nothing: the autologout timer ends the session without UPDATE.
	if rest := c.expectEOF(); !strings.HasPrefix(rest, "-ERR autologout") {
		t.Errorf("on idle timeout got %q", rest)
	}
	e.waitIdle()
	if got := e.inboxUIDs(); !slices.Equal(got, []uint32{uid}) {
		t.Errorf("INBOX after timeout = %v", got)
	}
}

// TestSnapshot: a delivery during a session does not appear in it, but does
// in the next one.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("before", "x"))
	c := e.login()
	first := c.ok("STAT")
	late := e.deliver(msg("during", "y"))
	if r := c.ok("STAT"); r != first {
		t.Errorf("STAT changed during the session: %q then %q", first, r)
	}
	c.ok("LIST")
	if n := len(c.lines()); n != 1 {
		t.Errorf("LIST has %d messages, want 1", n)
	}
	c.fail("RETR 2", "-ERR no such message")
	c.ok("DELE 1")
	c.ok("QUIT")
	c = e.login()
	c.ok("UIDL")
	uv := e.mailbox("INBOX").UIDValidity
	if got := c.lines(); !slices.Equal(got, []string{fmt.Sprintf("1 %d.%d", uv, late)}) {
		t.Errorf("next session UIDL = %q, want only the late message", got)
	}
}

// TestChangeFeed: a subscriber to the store's change feed (an IMAP IDLE
// session) sees one EXPUNGE for the messages a POP3 session deleted, when it
// QUITs and not before.
func TestChangeFeed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var uids []uint32
	for i := range 3 {
		uids = append(uids, e.deliver(msg(fmt.Sprint(i), "x")))
	}
	sub := e.st.Subscribe(e.acct.ID)
	defer sub.Close()
	c := e.login()
	c.ok("DELE 1")
	c.ok("DELE 3")
	c.ok("NOOP")
	if changes, _ := sub.Next(); len(changes) != 0 {
		t.Errorf("changes before QUIT: %+v", changes)
	}
	c.ok("QUIT")
	select {
	case <-sub.C():
	case <-time.After(ioWait):
		t.Fatal("no change notification after QUIT")
	}
	changes, overflowed := sub.Next()
	if overflowed || len(changes) != 1 {
		t.Fatalf("changes = %+v (overflowed %v), want one EXPUNGE", changes, overflowed)
	}
	ch := changes[0]
	if ch.Kind != store.ChangeExpunge || ch.MailboxID != e.inbox || !slices.Equal(ch.UIDs, []uint32{uids[0], uids[2]}) {
		t.Errorf("change = %+v, want EXPUNGE of %v in INBOX", ch, []uint32{uids[0], uids[2]})
	}
}

// TestExpungedElsewhere: a message another protocol removes during the session
// stays listed; DELE of it and QUIT still succeed.
func TestExpungedElsewhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gone := e.deliver(msg("gone", "x"))
	kept := e.deliver(msg("kept", "y"))
	c := e.login()
	if _, err := e.st.ExpungeUIDs(context.Background(), e.acct.ID, e.inbox, []uint32{gone}); err != nil {
		t.Fatal(err)
	}
	if r := c.cmd("RETR 1"); strings.HasPrefix(r, "+OK") {
		c.body() // the bytes are still there until garbage collection
	} else if !strings.HasPrefix(r, "-ERR message no longer available") {
		t.Errorf("RETR of an expunged message = %q", r)
	}
	c.ok("DELE 1")
	c.ok("QUIT")
	if got := e.inboxUIDs(); !slices.Equal(got, []uint32{kept}) {
		t.Errorf("INBOX = %v", got)
	}
}

func TestUIDLStable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var uids []uint32
	for i := range 5 {
		uids = append(uids, e.deliver(msg(fmt.Sprint(i), "x")))
	}
	uidl := func() map[string]string { // message subject → UIDL
		c := e.login()
		defer c.ok("QUIT")
		c.ok("UIDL")
		out := map[string]string{}
		for _, l := range c.lines() {
			num, id, _ := strings.Cut(l, " ")
			if len(id) == 0 || len(id) > 70 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
				t.Errorf("UIDL %q is not 1-70 printable characters (RFC 1939 7)", id)
			}
			c.ok("TOP " + num + " 0")
			hdr := string(c.body())
			i := strings.Index(hdr, "Subject: ")
			subj := strings.TrimSpace(strings.SplitN(hdr[i+9:], "\r\n", 2)[0])
			out[subj] = id
		}
		return out
	}
	first := uidl()
	if len(first) != 5 {
		t.Fatalf("UIDL = %v", first)
	}
	seen := map[string]bool{}
	for _, id := range first {
		if seen[id] {
			t.Errorf("UIDL %q is not unique", id)
		}
		seen[id] = true
	}
	if again := uidl(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Errorf("UIDL changed between sessions: %v then %v", first, again)
	}
	// Moving another message out of INBOX renumbers messages but changes no UIDL.
	if _, err := e.st.Move(context.Background(), e.acct.ID, e.inbox, store.UIDSet{{Lo: uids[1], Hi: uids[1]}}, e.mailbox("Archive").ID); err != nil {
		t.Fatal(err)
	}
	afterMove := uidl()
	delete(first, "1")
	if fmt.Sprint(afterMove) != fmt.Sprint(first) {
		t.Errorf("UIDL after moving another message = %v, want %v", afterMove, first)
	}
	e.restart()
	if afterRestart := uidl(); fmt.Sprint(afterRestart) != fmt.Sprint(first) {
		t.Errorf("UIDL after a restart = %v, want %v", afterRestart, first)
	}
	// A message moved back into INBOX is a new message with a new UIDL.
	if _, err := e.st.Move(context.Background(), e.acct.ID, e.mailbox("Archive").ID, nil, e.inbox); err != nil {
		t.Fatal(err)
	}
	back := uidl()
	if len(back) != 5 || back["1"] == "" || seen[back["1"]] {
		t.Errorf("after moving back: %v; message 1 must have a new UIDL", back)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uid := e.deliver(msg("a", "x"))
	idle := e.login()
	idle.ok("DELE 1")
	fresh := e.dial() // in the AUTHORIZATION state
	done := make(chan error, 1)
	srv := e.srv
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioWait)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	for _, c := range []*client{idle, fresh} {
		if rest := c.expectEOF(); rest != "-ERR [SYS/TEMP] server shutting down, try again later\r\n" {
			t.Errorf("on shutdown got %q", rest)
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := <-e.serve; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	e.srv = nil
	if got := e.inboxUIDs(); !slices.Equal(got, []uint32{uid}) {
		t.Errorf("INBOX after shutdown = %v: an unfinished session committed", got)
	}
	// Serve on a shut-down server returns at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if _, err := ln.Accept(); err == nil {
		t.Errorf("Serve after Shutdown left its listener open")
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver(msg("a", "x"))
	c := e.login()
	c.ok("DELE 1")
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if rest := c.expectEOF(); rest != "" {
		t.Errorf("Close sent %q", rest)
	}
	if err := <-e.serve; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
	e.serve <- ErrServerClosed // for the cleanup's Shutdown check
	if n := len(e.inboxUIDs()); n != 1 {
		t.Errorf("INBOX has %d messages after Close", n)
	}
}
