package imapserver_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/imapserver"
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
		"* 1 EXPUNGE", "* 3 EXISTS", "* 1 RECENT"}
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

// TestInvalidMUTF7Names: a name that is not valid modified UTF-7 names no
// mailbox. Commands on it answer NO (never BAD, never BYE, not counted
// towards the limit of BAD commands), LIST patterns with it answer
// normally with nothing, and the session goes on.
func TestInvalidMUTF7Names(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	for i := range 25 { // more than the BAD limit: none may count
		for _, c := range []struct{ cmd, want string }{
			{"SELECT &AGE", "NO [NONEXISTENT]"},
			{"EXAMINE &Jjo-&", "NO [NONEXISTENT]"},
			{"STATUS &AGE (MESSAGES)", "NO [NONEXISTENT]"},
			{"DELETE &AGE", "NO [NONEXISTENT]"},
			{"RENAME &AGE x", "NO [NONEXISTENT]"},
			{"RENAME INBOX &AGE", "NO [CANNOT]"},
			{"CREATE &AGE", "NO [CANNOT]"},
			{"CREATE a/&AGE/b", "NO [CANNOT]"},
			{"SUBSCRIBE &AGE", "NO [NONEXISTENT]"},
			{"GETQUOTAROOT &AGE", "NO [NONEXISTENT]"},
		} {
			tag := "t" + uitoa(uint32(i))
			done, lines := w.status(tag + " " + c.cmd)
			if !strings.HasPrefix(done, tag+" "+c.want) || len(lines) != 0 {
				t.Fatalf("%s: %q %q; want %s", c.cmd, done, lines, c.want)
			}
		}
	}
	for _, c := range []string{`l1 LIST "" &AGE*`, `l2 LIST &AGE "*"`, `l3 LIST "" (&AGE INBOX)`, `l4 LSUB "" &AGE%`} {
		tag, _, _ := strings.Cut(c, " ")
		done, lines := w.status(c)
		want := []string(nil)
		if tag == "l3" {
			want = []string{`* LIST (\HasNoChildren) "/" INBOX`}
		}
		if !strings.HasPrefix(done, tag+" OK") || !slices.Equal(lines, want) {
			t.Errorf("%s: %q %q; want OK and %q", c, done, lines, want)
		}
	}
	// The failed SELECT closed INBOX (RFC 9051 6.3.2); the session is
	// still there.
	if done, _ := w.status("f FETCH 1 UID"); !strings.HasPrefix(done, "f BAD") {
		t.Errorf("FETCH after a failed SELECT: %q", done)
	}
	w.cmd("g SELECT INBOX")
	w.cmd("h NOOP")
}

// TestSearchBeyondMailbox: sequence numbers above the message count in a
// SEARCH match nothing (the session goes on, as with Dovecot); FETCH of
// such a number stays BAD (RFC 9051 9) without ending the session.
func TestSearchBeyondMailbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	for _, c := range []struct{ cmd, want string }{
		{"b SEARCH RETURN () 1000", "* ESEARCH (TAG \"b\")"},
		{"c SEARCH 1000", "* SEARCH"},
		{"d SEARCH 2:1000", "* SEARCH 2"},
		{"e SEARCH 1000:*", "* SEARCH 2"}, // 1000:* is 2:1000 (RFC 9051 9)
		{"f SEARCH OR 5 1", "* SEARCH 1"},
		{"g SEARCH NOT 3:7", "* SEARCH 1 2"},
		{"h UID SEARCH 1000", "* SEARCH"},
	} {
		lines := w.cmd(c.cmd)
		if !slices.Equal(lines, []string{c.want}) {
			t.Errorf("%s: %q, want %q", c.cmd, lines, c.want)
		}
	}
	for i := range 25 {
		tag := "f" + uitoa(uint32(i))
		if done, _ := w.status(tag + " FETCH 1000 FLAGS"); !strings.HasPrefix(done, tag+" BAD") {
			t.Fatalf("FETCH beyond the mailbox: %q", done)
		}
		w.cmd("n" + uitoa(uint32(i)) + " NOOP") // BADs not in a row: no disconnect
	}
}

// TestSearchWithin: YOUNGER and OLDER (RFC 5032) compare the internal date
// with now minus an interval in seconds; WITHIN is advertised.
func TestSearchWithin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.login()
	w.cmd("a SELECT INBOX")
	old := time.Now().Add(-2 * time.Hour).Format("02-Jan-2006 15:04:05 -0700")
	msg := "Subject: x\r\n\r\nx\r\n"
	for i, date := range []string{old, ""} {
		tag := "p" + uitoa(uint32(i))
		arg := ""
		if date != "" {
			arg = ` "` + date + `"`
		}
		w.send(tag + " APPEND INBOX" + arg + " {" + uitoa(uint32(len(msg))) + "+}\r\n" + msg)
		if _, done := w.until(tag); !strings.HasPrefix(done, tag+" OK") {
			t.Fatalf("APPEND: %q", done)
		}
	}
	for _, c := range []struct{ cmd, want string }{
		{"b SEARCH YOUNGER 3600", "* SEARCH 2"},
		{"c SEARCH OLDER 3600", "* SEARCH 1"},
		{"d SEARCH YOUNGER 10800", "* SEARCH 1 2"},
		{"e SEARCH OLDER 10800", "* SEARCH"},
		{"f SEARCH NOT YOUNGER 3600", "* SEARCH 1"},
	} {
		lines := w.cmd(c.cmd)
		if !slices.Equal(lines, []string{c.want}) && !(len(lines) > 1 && lines[len(lines)-1] == c.want) {
			t.Errorf("%s: %q, want %q", c.cmd, lines, c.want)
		}
	}
	if done, _ := w.status("g SEARCH YOUNGER 0"); !strings.HasPrefix(done, "g BAD") {
		t.Errorf("YOUNGER 0 (not an nz-number): %q", done)
	}
}

// TestListRecursiveMatch follows RFC 5258 3.5 and 4 and the examples of
// its section 5: with RECURSIVEMATCH a mailbox matching the pattern gets
// CHILDINFO ("SUBSCRIBED") when a subscribed descendant is not itself
// listed (it does not match the pattern); with "*" every subscribed
// descendant is listed and no parent gets CHILDINFO; a parent that does
// not exist is \NonExistent (RFC 9051 7.3.1's table).
func TestListRecursiveMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	w := e.login()
	for _, m := range []string{"Fruit/Apple", "Fruit/Banana", "Fruit/Peach", "Tofu", "Vegetable/Broccoli", "Vegetable/Corn"} {
		w.cmd("c CREATE " + m)
	}
	for _, m := range []string{"Archive", "Drafts", "Junk", "Sent", "Trash"} {
		w.cmd("u UNSUBSCRIBE " + m)
	}
	for _, m := range []string{"Fruit/Banana", "Fruit/Peach", "Vegetable", "Vegetable/Broccoli", "Ghost/Child"} {
		w.cmd("s SUBSCRIBE " + m)
	}
	// Subscribed now: INBOX, Fruit/Banana, Fruit/Peach, Vegetable,
	// Vegetable/Broccoli, Ghost/Child (no such mailbox, nor Ghost).
	for _, c := range []struct {
		cmd  string
		want []string
	}{
		{`a LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable ("CHILDINFO" ("SUBSCRIBED"))`,
			`* LIST (\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))`,
			`* LIST (\NonExistent) "/" Ghost ("CHILDINFO" ("SUBSCRIBED"))`,
		}},
		{`b LIST (SUBSCRIBED RECURSIVEMATCH) "" "*"`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Banana`,
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Peach`,
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable`,
			`* LIST (\HasNoChildren \Subscribed) "/" Vegetable/Broccoli`,
			`* LIST (\NonExistent \Subscribed) "/" Ghost/Child`,
		}},
		{`c LIST (SUBSCRIBED) "" "%"`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" INBOX`,
			`* LIST (\HasChildren \Subscribed) "/" Vegetable`,
		}},
		{`d LIST (SUBSCRIBED RECURSIVEMATCH) "" "Fruit"`, []string{
			`* LIST (\HasChildren) "/" Fruit ("CHILDINFO" ("SUBSCRIBED"))`,
		}},
		{`e LIST (SUBSCRIBED RECURSIVEMATCH) "" "Fruit/%"`, []string{
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Banana`,
			`* LIST (\HasNoChildren \Subscribed) "/" Fruit/Peach`,
		}},
		{`f LIST (SUBSCRIBED RECURSIVEMATCH) "" "Tofu"`, nil},
	} {
		tag, _, _ := strings.Cut(c.cmd, " ")
		done, lines := w.status(c.cmd)
		if !strings.HasPrefix(done, tag+" OK") || !sameSet(lines, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.cmd, lines, c.want)
		}
	}
}

// sameSet compares two lists of lines regardless of order (LIST responses
// come in no defined order).
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// TestEnvelopeSourceRoute: ENVELOPE keeps an obsolete source route as the
// address's adl (RFC 3501 7.4.2), not NIL.
func TestEnvelopeSourceRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{From: "Joe <@a.test,@b.test:joe@c.test>", To: "ann@example.org", Subject: "route"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	lines := w.cmd("b FETCH 1 ENVELOPE")
	if len(lines) != 1 || !strings.Contains(lines[0], `(("Joe" "@a.test,@b.test" "joe" "c.test"))`) ||
		!strings.Contains(lines[0], `((NIL NIL "ann" "example.org"))`) {
		t.Errorf("ENVELOPE: %q", lines)
	}
}

// TestStatusSizeAndCreateSpecialUse: STATUS=SIZE (RFC 8438) and
// CREATE-SPECIAL-USE (RFC 6154 3) are advertised and work as their RFCs'
// examples show.
func TestStatusSizeAndCreateSpecialUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	inbox := e.mailbox("INBOX")
	w := e.login()
	caps := w.cmd("a CAPABILITY")
	for _, c := range []string{"STATUS=SIZE", "CREATE-SPECIAL-USE"} {
		if len(caps) != 1 || !slices.Contains(strings.Fields(caps[0]), c) {
			t.Errorf("%s not advertised: %q", c, caps)
		}
	}
	want := "* STATUS INBOX (MESSAGES 2 SIZE " + uitoa(uint32(inbox.Size)) + ")"
	if lines := w.cmd("b STATUS INBOX (MESSAGES SIZE)"); !slices.Equal(lines, []string{want}) {
		t.Errorf("STATUS SIZE: %q, want %q", lines, want)
	}
	w.cmd(`c CREATE MySpecial (USE (\Drafts))`)
	if lines := w.cmd(`d LIST "" MySpecial RETURN (SPECIAL-USE)`); !slices.Equal(lines, []string{`* LIST (\HasNoChildren \Drafts) "/" MySpecial`}) {
		t.Errorf("created special-use mailbox: %q", lines)
	}
	if done, _ := w.status(`e CREATE Other (USE (\Flagged \Bogus))`); !strings.HasPrefix(done, "e NO [USEATTR]") {
		t.Errorf("unknown use attribute: %q", done)
	}
}

// TestUnauthenticate: UNAUTHENTICATE (RFC 8437) is offered once logged in,
// closes the selected mailbox without expunging, turns enabled extensions
// off, and lets the connection log in again, as another user too.
func TestUnauthenticate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"})
	if _, err := e.st.AddAccount(t.Context(), "other@example.org", "other password 1"); err != nil {
		t.Fatal(err)
	}
	w := e.dial()
	if lines := w.cmd("a CAPABILITY"); slices.Contains(strings.Fields(lines[0]), "UNAUTHENTICATE") {
		t.Errorf("UNAUTHENTICATE offered before login: %q", lines)
	}
	if done, _ := w.status("b UNAUTHENTICATE"); !strings.HasPrefix(done, "b BAD") {
		t.Errorf("UNAUTHENTICATE before login: %q", done)
	}
	done, _ := w.status("c LOGIN " + testUser + ` "` + testPass + `"`)
	if !strings.Contains(done, " UNAUTHENTICATE") {
		t.Errorf("LOGIN's CAPABILITY code lacks UNAUTHENTICATE: %q", done)
	}
	w.cmd("d ENABLE CONDSTORE")
	w.cmd("e SELECT INBOX")
	w.cmd(`f STORE 1 +FLAGS.SILENT (\Deleted)`)
	w.cmd("g UNAUTHENTICATE")
	if mb := e.mailbox("INBOX"); mb.Messages != 1 {
		t.Errorf("UNAUTHENTICATE expunged: %d messages", mb.Messages)
	}
	for _, c := range []string{"h SELECT INBOX", "j UNAUTHENTICATE"} { // two: a third BAD before login would close the connection
		tag, _, _ := strings.Cut(c, " ")
		if done, _ := w.status(c); !strings.HasPrefix(done, tag+" BAD") {
			t.Errorf("%s after UNAUTHENTICATE: %q", c, done)
		}
	}
	w.cmd(`k LOGIN other@example.org "other password 1"`)
	if lines := w.cmd("l SELECT INBOX"); !slices.Contains(lines, "* 0 EXISTS") {
		t.Errorf("the second login sees another INBOX: %q", lines)
	}
	w.cmd("m UNAUTHENTICATE")
	w.cmd("n LOGIN " + testUser + ` "` + testPass + `"`)
	w.cmd("o SELECT INBOX")
	if lines := w.cmd("p FETCH 1 (FLAGS)"); len(lines) != 1 || strings.Contains(lines[0], "MODSEQ") {
		t.Errorf("CONDSTORE still enabled after UNAUTHENTICATE: %q", lines)
	}
	w.cmd("q LOGOUT")
}

// TestMultiAppend: MULTIAPPEND (RFC 3502): several messages in one APPEND,
// stored together with consecutive UIDs (APPENDUID with a range), or none
// of them when one is refused (the quota, checked before each message's
// data; APPENDLIMIT on their total).
func TestMultiAppend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *imapserver.Options) { o.MaxLiteral = 1000 })
	inbox := e.mailbox("INBOX")
	w := e.login()
	m1, m2, m3 := "Subject: one\r\n\r\n1\r\n", "Subject: two\r\n\r\n2\r\n", "Subject: three\r\n\r\n3\r\n"
	w.send(`a APPEND INBOX (\Seen) {` + uitoa(uint32(len(m1))) + "}")
	if l := w.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation: %q", l)
	}
	w.sendRaw(m1 + ` (\Flagged) "01-Feb-2020 10:00:00 +0000" {` + uitoa(uint32(len(m2))) + "+}\r\n" + m2 +
		" {" + uitoa(uint32(len(m3))) + "+}\r\n" + m3 + "\r\n")
	_, done := w.until("a")
	want := "a OK [APPENDUID " + uitoa(inbox.UIDValidity) + " " + uitoa(inbox.UIDNext) + ":" + uitoa(inbox.UIDNext+2) + "] APPEND completed"
	if done != want {
		t.Fatalf("MULTIAPPEND: %q, want %q", done, want)
	}
	w.cmd("b SELECT INBOX")
	lines := w.cmd("c FETCH 1:3 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
	if len(lines) != 3 || !strings.Contains(lines[0], `\Seen`) || !strings.Contains(lines[1], `\Flagged`) ||
		!strings.Contains(lines[1], `"01-Feb-2020 10:00:00 +0000"`) || !strings.Contains(lines[2], "three") {
		t.Errorf("appended messages: %q", lines)
	}
	// Over APPENDLIMIT together: refused at the second literal; nothing
	// of the command is stored.
	big := strings.Repeat("x", 600)
	w.send("d APPEND INBOX {" + uitoa(uint32(len(big))) + "+}\r\n" + big + " {" + uitoa(uint32(len(big))) + "}")
	if _, done := w.until("d"); !strings.HasPrefix(done, "d NO [TOOBIG]") {
		t.Errorf("MULTIAPPEND over APPENDLIMIT in total: %q", done)
	}
	if mb := e.mailbox("INBOX"); mb.Messages != 3 {
		t.Errorf("INBOX has %d messages, want 3", mb.Messages)
	}
	if lines := w.cmd("e CAPABILITY"); !strings.Contains(lines[0], " MULTIAPPEND") {
		t.Errorf("MULTIAPPEND not advertised: %q", lines)
	}
}

// TestRecent: \Recent as RFC 3501 2.3.2 defines it, for IMAP4rev1 sessions:
// the first session to see a message gets it, and no other; RECENT at
// SELECT and when mail arrives; SEARCH RECENT/NEW/OLD; STATUS RECENT counts
// what no session has seen; EXAMINE sees without taking; COPY gives it in
// the target; IMAP4rev2 sessions have none.
func TestRecent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliverRecent("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	other := e.login()
	if lines := other.cmd("s1 STATUS INBOX (RECENT)"); !slices.Equal(lines, []string{"* STATUS INBOX (RECENT 2)"}) {
		t.Errorf("STATUS RECENT before any SELECT: %q", lines)
	}
	if lines := other.cmd("x1 EXAMINE INBOX"); !slices.Contains(lines, "* 2 RECENT") {
		t.Errorf("EXAMINE sees the unclaimed messages as recent: %q", lines)
	}
	other.cmd("x2 UNSELECT")
	a := e.login()
	if lines := a.cmd("a1 SELECT INBOX"); !slices.Contains(lines, "* 2 RECENT") {
		t.Errorf("first SELECT: %q", lines)
	}
	b := e.login()
	if lines := b.cmd("b1 SELECT INBOX"); !slices.Contains(lines, "* 0 RECENT") {
		t.Errorf("second SELECT: %q", lines)
	}
	if lines := a.cmd("a2 FETCH 1:2 (FLAGS)"); !slices.Equal(lines, []string{`* 1 FETCH (FLAGS (\Recent))`, `* 2 FETCH (FLAGS (\Recent))`}) {
		t.Errorf("FETCH FLAGS in the first session: %q", lines)
	}
	if lines := b.cmd("b2 FETCH 1:2 (FLAGS)"); !slices.Equal(lines, []string{`* 1 FETCH (FLAGS ())`, `* 2 FETCH (FLAGS ())`}) {
		t.Errorf("FETCH FLAGS in the second session: %q", lines)
	}
	// New mail: the session told first gets it.
	e.deliverRecent("INBOX", storetest.Msg{Subject: "c"})
	if lines := noopUntilNews(b, "b3"); !slices.Equal(lines, []string{"* 3 EXISTS", "* 1 RECENT"}) {
		t.Errorf("NOOP in the second session after a delivery: %q", lines)
	}
	if lines := noopUntilNews(a, "a3"); !slices.Equal(lines, []string{"* 3 EXISTS", "* 2 RECENT"}) {
		t.Errorf("NOOP in the first session after a delivery: %q", lines)
	}
	a.cmd(`a4 STORE 1 +FLAGS.SILENT (\Seen)`)
	for _, c := range []struct{ cmd, want string }{
		{"a5 SEARCH RECENT", "* SEARCH 1 2"},
		{"a6 SEARCH NEW", "* SEARCH 2"},
		{"a7 SEARCH OLD", "* SEARCH 3"},
	} {
		if lines := a.cmd(c.cmd); !slices.Equal(lines, []string{c.want}) {
			t.Errorf("%s: %q, want %q", c.cmd, lines, c.want)
		}
	}
	if lines := b.cmd("b4 SEARCH RECENT"); !slices.Contains(lines, "* SEARCH 3") {
		t.Errorf("SEARCH RECENT in the second session: %q", lines)
	}
	if lines := other.cmd("s2 STATUS INBOX (RECENT)"); !slices.Equal(lines, []string{"* STATUS INBOX (RECENT 0)"}) {
		t.Errorf("STATUS RECENT once every message was seen: %q", lines)
	}
	// COPY: the copies are new in the target, recent to whoever selects it.
	a.cmd("a8 COPY 1:3 Archive")
	if lines := other.cmd("s3 STATUS Archive (RECENT)"); !slices.Equal(lines, []string{"* STATUS Archive (RECENT 3)"}) {
		t.Errorf("STATUS RECENT of the COPY target: %q", lines)
	}
	// IMAP4rev2 has no \Recent: it takes nothing either.
	r2 := e.login()
	r2.cmd("r1 ENABLE IMAP4rev2")
	if lines := r2.cmd("r2 SELECT Archive"); hasPrefix(lines, "* 3 RECENT") || hasPrefix(lines, "* 0 RECENT") {
		t.Errorf("IMAP4rev2 SELECT: %q", lines)
	}
	if lines := r2.cmd("r3 FETCH 1 (FLAGS)"); len(lines) != 1 || strings.Contains(lines[0], `\Recent`) {
		t.Errorf("IMAP4rev2 FETCH: %q", lines)
	}
	if lines := a.cmd("a9 SELECT Archive"); !slices.Contains(lines, "* 3 RECENT") {
		t.Errorf("SELECT of the COPY target after an IMAP4rev2 session: %q", lines)
	}
}

// TestKeywordAnnounced: a keyword used for the first time in the selected
// mailbox (STORE by this session or another, APPEND) is announced with
// FLAGS and PERMANENTFLAGS before the FETCH that carries it, once.
func TestKeywordAnnounced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"})
	w := e.login()
	if lines := w.cmd("a SELECT INBOX"); !slices.Contains(lines, `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)`) {
		t.Fatalf("SELECT: %q", lines)
	}
	lines := w.cmd("b STORE 1 +FLAGS ($Label1)")
	want := []string{`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags permitted`,
		`* 1 FETCH (UID 1 FLAGS ($Label1))`}
	if !slices.Equal(lines, want) {
		t.Errorf("first STORE of a keyword:\n got %q\nwant %q", lines, want)
	}
	if lines := w.cmd("c STORE 2 +FLAGS ($label1)"); len(lines) != 1 || strings.HasPrefix(lines[0], "* FLAGS") {
		t.Errorf("the same keyword again (any case): %q", lines)
	}
	// Another session's new keyword reaches this one announced first.
	o := e.login()
	o.cmd("o1 SELECT INBOX")
	o.cmd("o2 STORE 2 +FLAGS.SILENT (Work)")
	lines = noopUntilNews(w, "d")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 Work)`) ||
		!strings.HasPrefix(lines[1], `* OK [PERMANENTFLAGS (`) || !strings.HasPrefix(lines[2], "* 2 FETCH") {
		t.Errorf("another session's new keyword: %q", lines)
	}
	// FETCH of a message appended with a new keyword.
	msg := "Subject: kw\r\n\r\nx\r\n"
	w.send(`e APPEND INBOX (Project) {` + uitoa(uint32(len(msg))) + "+}\r\n" + msg)
	w.until("e")
	lines = w.cmd("f FETCH 3 (FLAGS)")
	if len(lines) != 3 || !strings.Contains(lines[0], " Project") || lines[2] != `* 3 FETCH (FLAGS (Project \Recent))` {
		t.Errorf("FETCH of an appended keyword: %q", lines)
	}
}

// noopUntilNews sends NOOP until the session is told something (a change
// reaches it through the change feed, on PostgreSQL a moment after the
// commit), at most for 2 s, and returns what it was told.
func noopUntilNews(w *wire, tag string) []string {
	w.t.Helper()
	var lines []string
	for i := 0; i < 100; i++ {
		if lines = w.cmd(tag + " NOOP"); len(lines) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return lines
}
