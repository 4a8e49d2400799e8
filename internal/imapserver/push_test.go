package imapserver_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// idle puts a raw session into IDLE.
func (w *wire) idle(tag string) {
	w.t.Helper()
	w.send(tag + " IDLE")
	if l := w.line(); !strings.HasPrefix(l, "+ ") {
		w.t.Fatalf("IDLE: %q", l)
	}
}

func (w *wire) done(tag string) []string {
	w.t.Helper()
	w.send("DONE")
	lines, done := w.until(tag)
	if !strings.HasPrefix(done, tag+" OK") {
		w.t.Fatalf("IDLE end: %q", done)
	}
	return lines
}

func TestPushIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	a := e.login()
	// IMAP4rev2: the pushes without IMAP4rev1's RECENT, which would go to
	// whichever session is told first (TestRecent has those).
	a.cmd("a0 ENABLE IMAP4rev2")
	a.cmd("a1 SELECT INBOX")
	a.idle("a2")
	b := e.client(nil)
	if _, err := b.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// A flag change by another session.
	if err := b.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if l := a.line(); l != `* 2 FETCH (UID `+uitoa(uids[1])+` FLAGS (\Flagged))` {
		t.Errorf("flag push: %q", l)
	}
	// An APPEND by another session.
	msg := "Subject: appended\r\n\r\nx\r\n"
	ac := b.Append("INBOX", int64(len(msg)), nil)
	ac.Write([]byte(msg))
	ac.Close()
	if _, err := ac.Wait(); err != nil {
		t.Fatal(err)
	}
	if l := a.line(); l != "* 3 EXISTS" {
		t.Errorf("append push: %q", l)
	}
	// An SMTP delivery (store.Deliver).
	e.deliver("INBOX", storetest.Msg{Subject: "delivered"})
	if l := a.line(); l != "* 4 EXISTS" {
		t.Errorf("delivery push: %q", l)
	}
	// An expunge.
	if err := b.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if l := a.line(); !strings.HasPrefix(l, `* 1 FETCH (UID `+uitoa(uids[0])+` FLAGS (\Deleted))`) {
		t.Errorf("deleted flag push: %q", l)
	}
	if err := b.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	if l := a.line(); l != "* 1 EXPUNGE" {
		t.Errorf("expunge push: %q", l)
	}
	if lines := a.done("a2"); len(lines) != 0 {
		t.Errorf("after DONE: %q", lines)
	}
	// The session's view is consistent: 3 messages, the first is "b".
	lines := a.cmd("a3 FETCH 1:* (UID)")
	if len(lines) != 3 || lines[0] != "* 1 FETCH (UID "+uitoa(uids[1])+")" {
		t.Errorf("after pushes: %q", lines)
	}
}

func TestPushQresyncVanished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"})
	a := e.login()
	a.cmd("a0 ENABLE QRESYNC")
	a.cmd("a1 SELECT INBOX")
	a.idle("a2")
	inbox := e.mailbox("INBOX")
	ctx := context.Background()
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: uids[0], Hi: uids[1]}}, store.FlagsAdd, []string{store.FlagDeleted}, 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if l := a.line(); !strings.Contains(l, `FLAGS (\Deleted) MODSEQ (`) {
			t.Errorf("flag push under QRESYNC: %q", l)
		}
	}
	if _, err := e.st.Expunge(ctx, e.acct.ID, inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	if l := a.line(); l != "* VANISHED "+uitoa(uids[0])+":"+uitoa(uids[1]) {
		t.Errorf("VANISHED push: %q", l)
	}
	a.done("a2")
}

// RFC 9051 7.5.1: no EXPUNGE while FETCH, STORE or SEARCH run; they wait
// for a command that allows them.
func TestExpungeDeferred(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"})
	a := e.login()
	a.cmd("a1 SELECT INBOX")
	inbox := e.mailbox("INBOX")
	if _, err := e.st.ExpungeUIDs(context.Background(), e.acct.ID, inbox.ID, []uint32{uids[1]}); err != nil {
		t.Fatal(err)
	}
	e.deliver("INBOX", storetest.Msg{Subject: "d"})
	// FETCH may announce the new message, never the expunge; message 2 is
	// still there by number, its data gone.
	lines := a.cmd("a2 FETCH 1:3 (UID)")
	if hasPrefix(lines, "* 2 EXPUNGE") || !slices.Equal(lines, []string{"* 1 FETCH (UID " + uitoa(uids[0]) + ")",
		"* 3 FETCH (UID " + uitoa(uids[2]) + ")", "* 4 EXISTS", "* 0 RECENT"}) {
		t.Errorf("FETCH during pending expunge: %q", lines)
	}
	if lines := a.cmd("a3 SEARCH ALL"); hasPrefix(lines, "* 2 EXPUNGE") {
		t.Errorf("SEARCH sent EXPUNGE: %q", lines)
	}
	if lines := a.cmd("a4 NOOP"); !slices.Equal(lines, []string{"* 2 EXPUNGE"}) {
		t.Errorf("NOOP: %q", lines)
	}
	if lines := a.cmd("a5 FETCH 1:* (UID)"); len(lines) != 3 {
		t.Errorf("after EXPUNGE: %q", lines)
	}
}

func TestQresyncSelect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"}, storetest.Msg{Subject: "d"})
	inbox := e.mailbox("INBOX")
	ctx := context.Background()
	since := inbox.HighestModSeq
	if _, err := e.st.ExpungeUIDs(ctx, e.acct.ID, inbox.ID, []uint32{uids[0], uids[2]}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: uids[3], Hi: uids[3]}}, store.FlagsAdd, []string{store.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	w := e.login()
	if done, _ := w.status("a SELECT INBOX (QRESYNC (1 1))"); !strings.HasPrefix(done, "a BAD") {
		t.Errorf("QRESYNC before ENABLE: %q", done)
	}
	w.cmd("b ENABLE QRESYNC")
	lines := w.cmd("c SELECT INBOX (QRESYNC (" + uitoa(inbox.UIDValidity) + " " + u64toa(since) + " 1:" + uitoa(uids[3]) + "))")
	n := len(lines)
	if n < 2 || lines[n-2] != "* VANISHED (EARLIER) "+uitoa(uids[0])+","+uitoa(uids[2]) ||
		!strings.HasPrefix(lines[n-1], "* 2 FETCH (UID "+uitoa(uids[3])+` FLAGS (\Seen) MODSEQ (`) {
		t.Errorf("QRESYNC SELECT: %q", lines)
	}
	// A wrong UIDVALIDITY gets a plain SELECT.
	lines = w.cmd("d SELECT INBOX (QRESYNC (1 " + u64toa(since) + "))")
	if hasPrefix(lines, "* VANISHED") || !hasPrefix(lines, "* OK [CLOSED]") {
		t.Errorf("QRESYNC with wrong UIDVALIDITY: %q", lines)
	}
	// UID FETCH (CHANGEDSINCE VANISHED) (RFC 7162 3.2.6).
	lines = w.cmd("e UID FETCH 1:* (FLAGS) (CHANGEDSINCE " + u64toa(since) + " VANISHED)")
	if len(lines) != 2 || lines[0] != "* VANISHED (EARLIER) "+uitoa(uids[0])+","+uitoa(uids[2]) {
		t.Errorf("UID FETCH VANISHED: %q", lines)
	}
}

func TestPushImapclientIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"})
	exists := make(chan uint32, 10)
	c := e.client(&imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	e.deliver("INBOX", storetest.Msg{Subject: "b"})
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d, want 2", n)
		}
	case <-time.After(ioWait):
		t.Fatal("no EXISTS pushed during IDLE")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
}
