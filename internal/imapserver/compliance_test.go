package imapserver_test

import (
	"slices"
	"strings"
	"testing"

	"gannet/internal/store/storetest"
)

// Behaviour an outside compliance run found wrong (issue 16, section 1),
// each checked on the raw wire.

// TestMoveIntoSelected: MOVE and UID MOVE into the selected mailbox itself
// work as RFC 6851 3.3 allows: COPYUID with new UIDs, the old ones expunged,
// the new ones announced before the tagged OK.
func TestMoveIntoSelected(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"})
	inbox := e.mailbox("INBOX")
	w := e.login()
	w.cmd("a SELECT INBOX")
	done, lines := w.status("b MOVE 1 INBOX")
	want := []string{"* OK [COPYUID " + uitoa(inbox.UIDValidity) + " " + uitoa(uids[0]) + " " + uitoa(inbox.UIDNext) + "] Moved",
		"* 1 EXPUNGE", "* 3 EXISTS"}
	if !strings.HasPrefix(done, "b OK") || !slices.Equal(lines, want) {
		t.Fatalf("MOVE into the selected mailbox: %q %q; want %q", done, lines, want)
	}
	lines = w.cmd("c UID FETCH 1:* (UID)")
	if !slices.Equal(lines, []string{"* 1 FETCH (UID " + uitoa(uids[1]) + ")", "* 2 FETCH (UID " + uitoa(uids[2]) + ")",
		"* 3 FETCH (UID " + uitoa(inbox.UIDNext) + ")"}) {
		t.Errorf("after MOVE into itself: %q", lines)
	}
	done, _ = w.status("d UID MOVE " + uitoa(uids[1]) + " INBOX")
	if !strings.HasPrefix(done, "d OK") {
		t.Errorf("UID MOVE into the selected mailbox: %q", done)
	}
	if mb := e.mailbox("INBOX"); mb.Messages != 3 || mb.UIDNext != inbox.UIDNext+2 {
		t.Errorf("INBOX: %d messages, UIDNEXT %d", mb.Messages, mb.UIDNext)
	}
}
