package imapserver_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"gannet/internal/imapserver"
	"gannet/internal/store/storetest"
)

func TestStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	u := func(i int) string { return uitoa(uids[i]) }
	lines := w.cmd(`b STORE 1:2 +FLAGS (\Seen $Work)`)
	// $Work is new in the mailbox: announced first (compliance_test.go).
	want := []string{`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted`,
		`* 1 FETCH (UID ` + u(0) + ` FLAGS (\Seen $Work))`, `* 2 FETCH (UID ` + u(1) + ` FLAGS (\Seen $Work))`}
	if !slices.Equal(lines, want) {
		t.Errorf("+FLAGS: %q", lines)
	}
	if lines := w.cmd(`c STORE 2 -FLAGS.SILENT $Work`); len(lines) != 0 {
		t.Errorf("-FLAGS.SILENT answered %q", lines)
	}
	lines = w.cmd(`d UID STORE ` + u(2) + ` FLAGS (\Answered \Draft)`)
	if !slices.Equal(lines, []string{`* 3 FETCH (UID ` + u(2) + ` FLAGS (\Answered \Draft))`}) {
		t.Errorf("UID STORE FLAGS: %q", lines)
	}
	if done, _ := w.status(`e STORE 1 +FLAGS (\Recent-not)`); !strings.HasPrefix(done, "e BAD") {
		t.Errorf("invalid flag: %q", done)
	}
	// UNCHANGEDSINCE (RFC 7162 3.1.3): message 1 changed after modseq 1.
	done, lines := w.status(`f STORE 1,3 (UNCHANGEDSINCE 1) +FLAGS (\Flagged)`)
	if done != "f OK [MODIFIED 1,3] Conditional STORE failed" || len(lines) != 0 {
		t.Errorf("UNCHANGEDSINCE 1: %q %q", done, lines)
	}
	lines = w.cmd(`g FETCH 1 (MODSEQ)`)
	ms := strings.TrimSuffix(strings.TrimPrefix(strings.Fields(lines[0])[4], "("), "))")
	done, lines = w.status(`h STORE 1,3 (UNCHANGEDSINCE ` + ms + `) +FLAGS.SILENT (\Flagged)`)
	if done != "h OK [MODIFIED 3] Conditional STORE failed" || len(lines) != 1 || !strings.HasPrefix(lines[0], "* 1 FETCH (UID "+u(0)+" MODSEQ (") {
		t.Errorf("UNCHANGEDSINCE partial: %q %q", done, lines)
	}
	if done, _ := w.status(`i STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\Flagged)`); done != "i OK [MODIFIED 1] Conditional STORE failed" {
		t.Errorf("UNCHANGEDSINCE 0: %q", done)
	}
	c := e.client(nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect()
	if err != nil || len(got) != 1 || !slices.Contains(got[0].Flags, imap.FlagDeleted) {
		t.Errorf("imapclient STORE: %v %+v", err, got)
	}
}

func TestCopyMoveExpunge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	uids := e.deliver("INBOX", storetest.Msg{Subject: "a"}, storetest.Msg{Subject: "b"}, storetest.Msg{Subject: "c"}, storetest.Msg{Subject: "d"})
	arch := e.mailbox("Archive")
	w := e.login()
	w.cmd("a SELECT INBOX")
	done, _ := w.status("b COPY 1:2 Archive")
	want := "b OK [COPYUID " + uitoa(arch.UIDValidity) + " " + uitoa(uids[0]) + ":" + uitoa(uids[1]) + " 1:2] COPY completed"
	if done != want {
		t.Errorf("COPY: %q, want %q", done, want)
	}
	if done, _ := w.status("c COPY 1 Nope"); !strings.HasPrefix(done, "c NO [TRYCREATE]") {
		t.Errorf("COPY to missing: %q", done)
	}
	done, lines := w.status("d MOVE 2:3 Trash")
	trash := e.mailbox("Trash")
	wantLines := []string{"* OK [COPYUID " + uitoa(trash.UIDValidity) + " " + uitoa(uids[1]) + ":" + uitoa(uids[2]) + " 1:2] Moved",
		"* 3 EXPUNGE", "* 2 EXPUNGE"}
	if !strings.HasPrefix(done, "d OK") || !slices.Equal(lines, wantLines) {
		t.Errorf("MOVE: %q %q", done, lines)
	}
	// Now INBOX holds a (1) and d (2).
	w.cmd(`e STORE 1:2 +FLAGS.SILENT (\Deleted)`)
	lines = w.cmd("f UID EXPUNGE " + uitoa(uids[3]))
	if !slices.Equal(lines, []string{"* 2 EXPUNGE"}) {
		t.Errorf("UID EXPUNGE: %q", lines)
	}
	lines = w.cmd("g EXPUNGE")
	if !slices.Equal(lines, []string{"* 1 EXPUNGE"}) {
		t.Errorf("EXPUNGE: %q", lines)
	}
	if n := e.mailbox("INBOX").Messages; n != 0 {
		t.Errorf("INBOX has %d messages", n)
	}
	// QRESYNC: VANISHED instead of EXPUNGE; HIGHESTMODSEQ on the tagged OK.
	w.cmd("h ENABLE QRESYNC")
	w.cmd("i SELECT Archive")
	w.cmd(`j STORE 1 +FLAGS.SILENT (\Deleted)`)
	done, lines = w.status("k EXPUNGE")
	if !slices.Equal(lines, []string{"* VANISHED 1"}) || !strings.HasPrefix(done, "k OK [HIGHESTMODSEQ ") {
		t.Errorf("QRESYNC EXPUNGE: %q %q", lines, done)
	}
	done, lines = w.status("l UID MOVE 2 Trash")
	if len(lines) != 2 || lines[1] != "* VANISHED 2" || !strings.HasPrefix(done, "l OK") {
		t.Errorf("QRESYNC MOVE: %q %q", lines, done)
	}
	w.cmd("m EXAMINE Trash")
	if done, _ := w.status("n EXPUNGE"); !strings.HasPrefix(done, "n NO") {
		t.Errorf("EXPUNGE in EXAMINE: %q", done)
	}
}

func TestAppend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *imapserver.Options) { o.MaxLiteral = 1000 })
	w := e.login()
	w.cmd("a SELECT INBOX")
	inbox := e.mailbox("INBOX")
	msg := "Subject: hi\r\n\r\nbody\r\n"
	w.send(`b APPEND INBOX (\Seen $Work) "05-Mar-2024 10:11:12 +0100" {` + itoa(len(msg)) + `}`)
	if l := w.line(); !strings.HasPrefix(l, "+ ") {
		t.Fatalf("continuation: %q", l)
	}
	w.send(msg)
	lines, done := w.until("b")
	// The session that appended is the first told of the message: it is
	// \Recent to it (RFC 3501 2.3.2).
	if done != "b OK [APPENDUID "+uitoa(inbox.UIDValidity)+" 1] APPEND completed" || !slices.Equal(lines, []string{"* 1 EXISTS", "* 1 RECENT"}) {
		t.Errorf("APPEND: %q %q", lines, done)
	}
	lines = w.cmd("c FETCH 1 (FLAGS INTERNALDATE BODY.PEEK[])")
	// $Work is new in the mailbox: FLAGS and PERMANENTFLAGS come first.
	if len(lines) != 3 || lines[2] != `* 1 FETCH (FLAGS (\Seen $Work \Recent) INTERNALDATE "05-Mar-2024 09:11:12 +0000" BODY[] `+msg+`)` {
		t.Errorf("appended message: %q", lines)
	}
	// LITERAL+ and literal8 (RFC 7888, RFC 3516), into another mailbox.
	w.sendRaw("d APPEND Drafts ~{" + itoa(len(msg)) + "+}\r\n" + msg + "\r\n")
	if _, done := w.until("d"); !strings.HasPrefix(done, "d OK [APPENDUID ") {
		t.Errorf("APPEND literal8+: %q", done)
	}
	// UTF8=ACCEPT's APPEND form (RFC 6855 4).
	w.cmd("e ENABLE UTF8=ACCEPT")
	w.sendRaw("f APPEND Drafts UTF8 (~{" + itoa(len(msg)) + "+}\r\n" + msg + ")\r\n")
	if _, done := w.until("f"); !strings.HasPrefix(done, "f OK [APPENDUID ") {
		t.Errorf("APPEND UTF8: %q", done)
	}
	if done, _ := w.status("g APPEND Nope {5}"); !strings.HasPrefix(done, "g NO [TRYCREATE]") {
		t.Errorf("APPEND to missing mailbox: %q", done)
	}
	if done, _ := w.status("h APPEND INBOX {1001}"); !strings.HasPrefix(done, "h NO [TOOBIG]") {
		t.Errorf("APPEND over APPENDLIMIT: %q", done)
	}
	// A refused non-synchronizing literal is BAD [TOOBIG] and its data is skipped.
	w.sendRaw("i APPEND INBOX {1001+}\r\n" + strings.Repeat("x", 1001) + "\r\n")
	if _, done := w.until("i"); !strings.HasPrefix(done, "i BAD [TOOBIG]") {
		t.Errorf("APPEND literal+ over APPENDLIMIT: %q", done)
	}
	w.cmd("j NOOP")
	c := e.client(nil)
	cmd := c.Append("Sent", int64(len(msg)), &imap.AppendOptions{Time: time.Now(), Flags: []imap.Flag{imap.FlagDraft}})
	if _, err := cmd.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := cmd.Wait()
	if err != nil || res.UID == 0 || res.UIDValidity != e.mailbox("Sent").UIDValidity {
		t.Errorf("imapclient APPEND: %v %+v", err, res)
	}
}
