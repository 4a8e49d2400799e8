package imapserver_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"gannet/internal/store/storetest"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day := func(d int) time.Time { return time.Date(2024, 3, d, 12, 0, 0, 0, time.UTC) }
	uids := e.deliver("INBOX",
		storetest.Msg{Subject: "Invoice March", From: "Billing <billing@shop.example>", Date: day(1), Body: "total 42 EUR\n"},
		storetest.Msg{Subject: "Lunch?", From: "Bob <bob@example.net>", Cc: "carol@example.net", Date: day(2), Body: "pizza today\n"},
		storetest.Msg{Subject: "Café ☕", From: "Bob <bob@example.net>", Date: day(3), Headers: []string{"X-Tag: urgent"}, Body: strings.Repeat("long ", 400) + "\n"},
		storetest.Msg{Subject: "Re: Lunch?", From: "Carol <carol@example.net>", Date: day(4), Body: "yes\n"},
	)
	w := e.login()
	w.cmd("a SELECT INBOX")
	w.cmd(`b STORE 2 +FLAGS (\Seen \Flagged)`)
	w.cmd(`c STORE 4 +FLAGS ($Work)`)
	tests := []struct{ q, want string }{
		{"ALL", "* SEARCH 1 2 3 4"},
		{"SEEN", "* SEARCH 2"},
		{"UNSEEN", "* SEARCH 1 3 4"},
		{"FLAGGED UNSEEN", "* SEARCH"},
		{"KEYWORD $Work", "* SEARCH 4"},
		{"UNKEYWORD $Work", "* SEARCH 1 2 3"},
		{"FROM bob", "* SEARCH 2 3"},
		{"CC carol", "* SEARCH 2"},
		{"SUBJECT lunch", "* SEARCH 2 4"},
		{`HEADER X-Tag urgent`, "* SEARCH 3"},
		{"BODY pizza", "* SEARCH 2"},
		{"TEXT invoice", "* SEARCH 1"},
		{"LARGER 1000", "* SEARCH 3"},
		{"SMALLER 1000", "* SEARCH 1 2 4"},
		{"SENTBEFORE 3-Mar-2024", "* SEARCH 1 2"},
		{"SENTON 3-Mar-2024", "* SEARCH 3"},
		{"SENTSINCE 3-Mar-2024", "* SEARCH 3 4"},
		{"SINCE 1-Jan-2000 BEFORE 1-Jan-2100", "* SEARCH 1 2 3 4"},
		{"NOT FROM bob", "* SEARCH 1 4"},
		{"OR SEEN KEYWORD $Work", "* SEARCH 2 4"},
		{"(FROM bob) (NOT SEEN)", "* SEARCH 3"},
		{"2:3", "* SEARCH 2 3"},
		{"2:* 1:3", "* SEARCH 2 3"},
		{"UID " + uitoa(uids[3]), "* SEARCH 4"},
		{"NEW", "* SEARCH"},
		{"OLD", "* SEARCH 1 2 3 4"},
		{"CHARSET UTF-8 SUBJECT {5}\r\nCafé", ""},
		{"RETURN (MIN MAX COUNT) FROM bob", `* ESEARCH (TAG "t") MIN 2 MAX 3 COUNT 2`},
		{"RETURN () SUBJECT lunch", `* ESEARCH (TAG "t") ALL 2,4`},
		{"RETURN (COUNT) SUBJECT nothing-matches", `* ESEARCH (TAG "t") COUNT 0`},
	}
	for i, tc := range tests {
		tag := "t"
		if tc.want == "" {
			// A literal: send by hand and wait for the continuation.
			head, rest, _ := strings.Cut(tc.q, "\r\n")
			w.send("t SEARCH " + head)
			if l := w.line(); !strings.HasPrefix(l, "+") {
				t.Fatalf("continuation: %q", l)
			}
			w.send(rest)
			lines, done := w.until("t")
			if !strings.HasPrefix(done, "t OK") || !slices.Equal(lines, []string{"* SEARCH 3"}) {
				t.Errorf("SEARCH %q: %q %q", tc.q, lines, done)
			}
			continue
		}
		done, lines := w.status(tag + " SEARCH " + tc.q)
		if !strings.HasPrefix(done, "t OK") || !slices.Equal(lines, []string{tc.want}) {
			t.Errorf("%d SEARCH %s:\n got %q %q\nwant %q", i, tc.q, lines, done, tc.want)
		}
	}
	// UID SEARCH answers UIDs; ESEARCH says UID.
	if lines := w.cmd("u UID SEARCH FROM bob"); !slices.Equal(lines, []string{"* SEARCH " + uitoa(uids[1]) + " " + uitoa(uids[2])}) {
		t.Errorf("UID SEARCH: %q", lines)
	}
	if lines := w.cmd("v UID SEARCH RETURN (ALL) FROM bob"); !slices.Equal(lines, []string{`* ESEARCH (TAG "v") UID ALL ` + uitoa(uids[1]) + ":" + uitoa(uids[2])}) {
		t.Errorf("UID SEARCH RETURN: %q", lines)
	}
	// SEARCHRES (RFC 5182): SAVE alone answers nothing; $ reuses it.
	if lines := w.cmd("w SEARCH RETURN (SAVE) FROM bob"); len(lines) != 0 {
		t.Errorf("SAVE answered %q", lines)
	}
	if lines := w.cmd("x FETCH $ (UID)"); len(lines) != 2 {
		t.Errorf("FETCH $: %q", lines)
	}
	if lines := w.cmd("y SEARCH $ SEEN"); !slices.Equal(lines, []string{"* SEARCH 2"}) {
		t.Errorf("SEARCH $: %q", lines)
	}
	// MODSEQ (RFC 7162 3.1.5) adds the highest MODSEQ of the matches.
	if lines := w.cmd("z SEARCH MODSEQ 1 SEEN"); len(lines) != 1 || !strings.HasPrefix(lines[0], "* SEARCH 2 (MODSEQ ") {
		t.Errorf("SEARCH MODSEQ: %q", lines)
	}
	if done, _ := w.status("z1 SEARCH CHARSET KOI8-R ALL"); !strings.HasPrefix(done, "z1 NO [BADCHARSET (UTF-8 US-ASCII)]") {
		t.Errorf("unknown charset: %q", done)
	}
	if done, _ := w.status("z2 SEARCH FROB"); !strings.HasPrefix(done, "z2 BAD") {
		t.Errorf("unknown key: %q", done)
	}
	// A number above the count matches nothing (compliance_test.go).
	if done, lines := w.status("z3 SEARCH 9"); !strings.HasPrefix(done, "z3 OK") || !slices.Equal(lines, []string{"* SEARCH"}) {
		t.Errorf("sequence number out of range: %q %q", done, lines)
	}
	// IMAP4rev2 answers ESEARCH; imapclient reads it.
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: "bob"}},
		NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil || !slices.Equal(data.AllUIDs(), []imap.UID{imap.UID(uids[2])}) {
		t.Errorf("imapclient UID SEARCH: %v %v", err, data)
	}
	w.cmd("r ENABLE IMAP4rev2")
	if lines := w.cmd("s SEARCH FROM bob"); !slices.Equal(lines, []string{`* ESEARCH (TAG "s") ALL 2:3`}) {
		t.Errorf("rev2 SEARCH: %q", lines)
	}
}
