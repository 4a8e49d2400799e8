package imapserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// TestManyPages: a mailbox of more than two store pages (store.ListEach
// reads 4,096 messages a page) with expunged messages scattered through it:
// SELECT's answers come from the snapshot (the UIDs derived from UIDNEXT and
// the tombstones), and FETCH and STORE answer every message once, in order,
// with the right sequence numbers, across the pages.
func TestManyPages(t *testing.T) {
	const n = 8400
	e := newEnv(t)
	ctx := context.Background()
	inbox := e.mailbox("INBOX")
	if _, err := e.st.Append(ctx, e.acct.ID, inbox.ID, storetest.Msg{Subject: "page"}.Bytes(), []string{store.FlagSeen}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for have := 1; have < n; {
		k := min(have, n-have)
		if _, err := e.st.Copy(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: 1, Hi: uint32(k)}}, inbox.ID); err != nil {
			t.Fatal(err)
		}
		have += k
	}
	// Expunge every 1,000th message; unsee one in the third page.
	var gone store.UIDSet
	for u := uint32(1000); u <= n; u += 1000 {
		gone = append(gone, store.UIDRange{Lo: u, Hi: u})
	}
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, gone, store.FlagsAdd, []string{store.FlagDeleted}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Expunge(ctx, e.acct.ID, inbox.ID, nil); err != nil {
		t.Fatal(err)
	}
	const unseenUID = 8300
	if _, err := e.st.StoreFlags(ctx, e.acct.ID, inbox.ID, store.UIDSet{{Lo: unseenUID, Hi: unseenUID}}, store.FlagsRemove, []string{store.FlagSeen}, 0); err != nil {
		t.Fatal(err)
	}
	left := n - len(gone)
	// UID 8300's sequence number: 8,300 less the 8 expunged below it.
	unseenSeq := unseenUID - 8

	w := e.login()
	lines := w.cmd("a SELECT INBOX")
	for _, want := range []string{fmt.Sprintf("* %d EXISTS", left), fmt.Sprintf("* OK [UNSEEN %d] First unseen", unseenSeq), fmt.Sprintf("* OK [UIDNEXT %d] Predicted next UID", n+1)} {
		if !hasLine(lines, want) {
			t.Errorf("SELECT: no %q in %q", want, lines)
		}
	}
	check := func(cmd string, lines []string, want int) {
		t.Helper()
		if len(lines) != want {
			t.Fatalf("%s: %d lines, want %d", cmd, len(lines), want)
		}
		seq, uid := 0, uint32(0)
		for _, l := range lines {
			var s int
			var u uint32
			_, rest, _ := strings.Cut(l, "UID ")
			if _, err := fmt.Sscanf(l, "* %d FETCH ", &s); err != nil {
				t.Fatalf("%s: %q: %v", cmd, l, err)
			}
			if _, err := fmt.Sscanf(rest, "%d", &u); err != nil {
				t.Fatalf("%s: %q: %v", cmd, l, err)
			}
			if s != seq+1 || u <= uid || u%1000 == 0 {
				t.Fatalf("%s: %q after seq %d UID %d", cmd, l, seq, uid)
			}
			if wantSeen := u != unseenUID; strings.Contains(l, `\Seen`) != wantSeen {
				t.Fatalf("%s: %q: \\Seen should be %v", cmd, l, wantSeen)
			}
			seq, uid = s, u
		}
	}
	// FLAGS only (the store's FlagsOnly pages) and with more items.
	check("UID FETCH FLAGS", w.cmd("b UID FETCH 1:* (FLAGS)"), left)
	check("FETCH FLAGS RFC822.SIZE", w.cmd("c FETCH 1:* (UID FLAGS RFC822.SIZE)"), left)
	// STORE's answers, over every page.
	// $Paged is new: FLAGS and PERMANENTFLAGS announce it first.
	stored := w.cmd("d STORE 1:* +FLAGS ($Paged)")
	if len(stored) < 2 || !strings.HasPrefix(stored[0], "* FLAGS (") || !strings.HasPrefix(stored[1], "* OK [PERMANENTFLAGS (") {
		t.Fatalf("STORE of a new keyword: no FLAGS first: %.200q", stored)
	}
	check("STORE", stored[2:], left)
	lines = w.cmd("e SEARCH KEYWORD $Paged")
	if len(lines) != 1 || len(strings.Fields(lines[0])) != 2+left {
		t.Errorf("SEARCH KEYWORD $Paged: %d matches, want %d", len(strings.Fields(lines[0]))-2, left)
	}
	// A new SELECT sees the keyword in FLAGS.
	lines = w.cmd("f SELECT INBOX")
	if !hasPrefix(lines, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Paged)`) {
		t.Errorf("SELECT after STORE: %q", lines)
	}
}
