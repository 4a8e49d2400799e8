package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

func messageTests() []subtest {
	return []subtest{
		{"DeliverMany", testDeliverMany},
		{"DeliverAllOrNothing", testDeliverAllOrNothing},
		{"DeliverDefaults", testDeliverDefaults},
		{"Append", testAppend},
		{"AppendMany", testAppendMany},
		{"OpenRange", testOpenRange},
		{"ListUIDSets", testListUIDSets},
		{"Parsed", testParsed},
		{"POPHidden", testPOPHidden},
	}
}

func testDeliverMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := account(t, s, "alice@example.org")
	bob := account(t, s, "bob@example.org")
	carol := account(t, s, "carol@example.com")
	work := createMbox(t, s, alice.ID, "Work")
	// Give bob's INBOX a message first so the UIDs differ between recipients.
	appendN(t, s, bob.ID, mbox(t, s, bob.ID, "INBOX").ID, "earlier", 2)

	raw := Msg{
		From: "Dan <dan@remote.example>", To: "alice@example.org, bob@example.org",
		Cc: "carol@example.com", Subject: "Meeting notes",
		Body: "Hi all,\n\nnotes attached inline.\n\n-- \nDan\n",
	}.Bytes()
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("", 2*3600))
	rcpts := []store.Recipient{
		{AccountID: alice.ID}, // "" = INBOX
		{AccountID: alice.ID, Mailbox: "Work", Flags: []string{store.FlagFlagged}},
		{AccountID: bob.ID, Mailbox: "INBOX"},
		{AccountID: carol.ID, Flags: []string{store.FlagSeen, "$important"}},
	}
	boxes := []*store.Mailbox{
		mbox(t, s, alice.ID, "INBOX"), work, mbox(t, s, bob.ID, "INBOX"), mbox(t, s, carol.ID, "INBOX"),
	}
	res := deliver(t, s, store.Delivery{Raw: raw, InternalDate: date, Recipients: rcpts})

	blob := ""
	for i, r := range res {
		mb := boxes[i]
		if r.MailboxID != mb.ID || r.UIDValidity != mb.UIDValidity || r.UID != mb.UIDNext {
			t.Errorf("recipient %d result = mailbox %d UIDVALIDITY %d UID %d, want %d %d %d (the UIDNEXT before)",
				i, r.MailboxID, r.UIDValidity, r.UID, mb.ID, mb.UIDValidity, mb.UIDNext)
		}
		m := one(t, s, rcpts[i].AccountID, mb.ID, r.UID)
		if m.Size != int64(len(raw)) {
			t.Errorf("recipient %d Size = %d, want %d", i, m.Size, len(raw))
		}
		if !m.InternalDate.Equal(date) {
			t.Errorf("recipient %d InternalDate = %v, want %v", i, m.InternalDate, date)
		}
		wantFlags(t, fmt.Sprintf("recipient %d", i), m.Flags, rcpts[i].Flags)
		if m.MailboxID != mb.ID {
			t.Errorf("recipient %d Message.MailboxID = %d, want %d", i, m.MailboxID, mb.ID)
		}
		if m.ModSeq == 0 {
			t.Errorf("recipient %d ModSeq 0", i)
		}
		if m.Parsed != nil {
			t.Errorf("recipient %d: Parsed filled without ListOptions.Parsed", i)
		}
		if m.BlobID == "" {
			t.Fatalf("recipient %d: empty BlobID", i)
		}
		if blob == "" {
			blob = m.BlobID
		} else if m.BlobID != blob {
			t.Errorf("recipient %d BlobID %q, want the shared %q (stored once)", i, m.BlobID, blob)
		}
		if after := mboxByID(t, s, rcpts[i].AccountID, mb.ID); after.UIDNext <= r.UID {
			t.Errorf("recipient %d: UIDNEXT %d not past delivered UID %d", i, after.UIDNext, r.UID)
		}
	}
	if n := mboxByID(t, s, alice.ID, work.ID).Messages; n != 1 {
		t.Errorf("alice Work has %d messages, want 1", n)
	}
	if n := mbox(t, s, alice.ID, "INBOX").Messages; n != 1 {
		t.Errorf("alice INBOX has %d messages, want 1", n)
	}
	if n := mbox(t, s, bob.ID, "INBOX").Messages; n != 3 {
		t.Errorf("bob INBOX has %d messages, want 3", n)
	}
	if a := accountByID(t, s, alice.ID); a.UsedMessages != 2 || a.UsedBytes != 2*int64(len(raw)) {
		t.Errorf("alice Used = %d messages %d bytes, want 2 and %d (one per mailbox copy)", a.UsedMessages, a.UsedBytes, 2*len(raw))
	}

	rc, err := s.Open(ctx, blob)
	if got := readAll(t, rc, err, "Open"); !bytes.Equal(got, raw) {
		t.Errorf("Open returned %q, want %q", got, raw)
	}
	_, err = s.Open(ctx, strings.Repeat("0", 64))
	wantErr(t, "Open unknown blob", err, store.ErrNotFound)

	// Content addressing: the same bytes delivered again share the blob.
	res2 := deliver(t, s, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: bob.ID}}})
	if m := one(t, s, bob.ID, boxes[2].ID, res2[0].UID); m.BlobID != blob {
		t.Errorf("same bytes delivered again: BlobID %q, want %q", m.BlobID, blob)
	}
	if res2[0].UID <= res[2].UID {
		t.Errorf("second delivery UID %d not above %d", res2[0].UID, res[2].UID)
	}
	other := deliver(t, s, store.Delivery{Raw: Msg{Subject: "different"}.Bytes(), Recipients: []store.Recipient{{AccountID: bob.ID}}})
	if m := one(t, s, bob.ID, boxes[2].ID, other[0].UID); m.BlobID == blob {
		t.Errorf("different bytes got the same BlobID %q", blob)
	}
}

// mailCount sums the messages in every mailbox of the accounts.
func mailCount(t *testing.T, s store.Store, ids ...int64) int64 {
	t.Helper()
	var n int64
	for _, id := range ids {
		mbs, err := s.Mailboxes(t.Context(), id)
		noErr(t, "Mailboxes", err)
		for _, mb := range mbs {
			n += mb.Messages
			if got := int64(len(list(t, s, id, mb.ID, nil))); got != mb.Messages {
				t.Errorf("mailbox %s: Messages = %d, List = %d", mb.Name, mb.Messages, got)
			}
		}
	}
	return n
}

func testDeliverAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := account(t, s, "alice@example.org")
	bob := account(t, s, "bob@example.org")
	createMbox(t, s, bob.ID, "Work")
	appendN(t, s, alice.ID, mbox(t, s, alice.ID, "INBOX").ID, "existing", 1)
	before := mailCount(t, s, alice.ID, bob.ID)
	msA, msB := acctModSeq(t, s, alice.ID), acctModSeq(t, s, bob.ID)
	nextA := mbox(t, s, alice.ID, "INBOX").UIDNext

	raw := Msg{Subject: "all or nothing"}.Bytes()
	cases := []struct {
		name  string
		rcpts []store.Recipient
	}{
		{"unknown account", []store.Recipient{
			{AccountID: alice.ID}, {AccountID: bob.ID, Mailbox: "Work"}, {AccountID: alice.ID + bob.ID + 1000},
		}},
		{"unknown mailbox", []store.Recipient{
			{AccountID: alice.ID}, {AccountID: bob.ID, Mailbox: "Work"}, {AccountID: bob.ID, Mailbox: "No Such Folder"},
		}},
		{"unknown mailbox first", []store.Recipient{
			{AccountID: alice.ID, Mailbox: "Nope"}, {AccountID: bob.ID},
		}},
	}
	for _, c := range cases {
		_, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: c.rcpts})
		wantErr(t, "Deliver with "+c.name, err, store.ErrNotFound)
		if after := mailCount(t, s, alice.ID, bob.ID); after != before {
			t.Errorf("Deliver with %s: %d messages stored before, %d after; want nothing stored", c.name, before, after)
		}
	}
	if a, b := acctModSeq(t, s, alice.ID), acctModSeq(t, s, bob.ID); a != msA || b != msB {
		t.Errorf("failed deliveries changed ModSeqs: alice %d → %d, bob %d → %d", msA, a, msB, b)
	}
	if u := accountByID(t, s, bob.ID); u.UsedMessages != 0 || u.UsedBytes != 0 {
		t.Errorf("failed deliveries changed bob's Used to %d messages %d bytes", u.UsedMessages, u.UsedBytes)
	}
	// UIDs are not consumed either (not required, but a rolled-back transaction
	// should leave UIDNEXT alone); and a good delivery still works.
	res := deliver(t, s, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: alice.ID}}})
	if res[0].UID < nextA {
		t.Errorf("UID %d after failed deliveries is below the earlier UIDNEXT %d", res[0].UID, nextA)
	}
	if after := mailCount(t, s, alice.ID, bob.ID); after != before+1 {
		t.Errorf("after a good delivery: %d messages, want %d", after, before+1)
	}
}

func testDeliverDefaults(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	raw := Msg{Subject: "now"}.Bytes()
	before := time.Now().Add(-2 * time.Second)
	res := deliver(t, s, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}})
	after := time.Now().Add(2 * time.Second)
	inbox := mbox(t, s, a.ID, "INBOX")
	if res[0].MailboxID != inbox.ID {
		t.Errorf("Recipient.Mailbox \"\" delivered to mailbox %d, want INBOX %d", res[0].MailboxID, inbox.ID)
	}
	m := one(t, s, a.ID, inbox.ID, res[0].UID)
	if m.InternalDate.Before(before) || m.InternalDate.After(after) {
		t.Errorf("zero InternalDate stored as %v, want about now (%v)", m.InternalDate, before)
	}
	if len(m.Flags) != 0 {
		t.Errorf("flags = %q, want none", m.Flags)
	}
	// Invalid initial flags are refused.
	res2, err := s.Deliver(t.Context(), store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID, Flags: []string{`\Recent`}}}})
	if err == nil && (len(res2) != 1 || res2[0].Err == nil) {
		t.Errorf("Deliver with flag \\Recent succeeded")
	}
}

func testAppend(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	drafts := mbox(t, s, a.ID, "Drafts")
	raw := Msg{Subject: "draft", Body: "unfinished\n"}.Bytes()
	date := time.Date(2023, 12, 24, 18, 30, 0, 0, time.UTC)
	r, err := s.Append(ctx, a.ID, drafts.ID, raw, []string{store.FlagDraft, `\seen`, "todo"}, date)
	noErr(t, "Append", err)
	if r.Err != nil || r.UID != drafts.UIDNext || r.UIDValidity != drafts.UIDValidity || r.MailboxID != drafts.ID {
		t.Errorf("Append result = %+v, want UID %d UIDVALIDITY %d mailbox %d", r, drafts.UIDNext, drafts.UIDValidity, drafts.ID)
	}
	m := one(t, s, a.ID, drafts.ID, r.UID)
	wantFlags(t, "appended", m.Flags, []string{store.FlagDraft, store.FlagSeen, "todo"})
	if !m.InternalDate.Equal(date) || m.Size != int64(len(raw)) {
		t.Errorf("appended InternalDate %v Size %d, want %v %d", m.InternalDate, m.Size, date, len(raw))
	}
	rc, err := s.Open(ctx, m.BlobID)
	if got := readAll(t, rc, err, "Open"); !bytes.Equal(got, raw) {
		t.Errorf("Open appended = %q, want %q", got, raw)
	}
	if ms := accountByID(t, s, a.ID).ModSeq; m.ModSeq != ms {
		t.Errorf("appended message ModSeq %d, account ModSeq %d; want equal", m.ModSeq, ms)
	}
	if mb := mboxByID(t, s, a.ID, drafts.ID); mb.HighestModSeq != m.ModSeq || mb.UIDNext <= r.UID {
		t.Errorf("Drafts HIGHESTMODSEQ %d UIDNEXT %d after append of UID %d modseq %d", mb.HighestModSeq, mb.UIDNext, r.UID, m.ModSeq)
	}

	_, err = s.Append(ctx, a.ID, drafts.ID+1000, raw, nil, date)
	wantErr(t, "Append to unknown mailbox", err, store.ErrNotFound)
	_, err = s.Append(ctx, a.ID, drafts.ID, raw, []string{"bad flag"}, date)
	wantErr(t, "Append with invalid flag", err, store.ErrInvalidFlag)
	if n := mbox(t, s, a.ID, "Drafts").Messages; n != 1 {
		t.Errorf("Drafts has %d messages after refused appends, want 1", n)
	}
}

// bigMessage is a ~300 KB text message, so ranges cross any plausible
// compression chunk boundary.
func bigMessage() []byte {
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "Line %05d: %x the quick brown fox jumps over the lazy dog\n", i, i*7919)
	}
	return Msg{Subject: "big", Body: b.String()}.Bytes()
}

func testOpenRange(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	for _, raw := range [][]byte{Msg{Subject: "small", Body: "0123456789abcdef\n"}.Bytes(), bigMessage()} {
		uid := appendMsg(t, s, a.ID, inbox.ID, raw, nil, time.Time{})
		blob := one(t, s, a.ID, inbox.ID, uid).BlobID
		L := int64(len(raw))
		ranges := [][2]int64{{0, 10}, {5, 20}, {L - 7, 7}, {0, L}, {L / 2, L / 3}, {1, L - 1}, {L, 0}, {3, 0}}
		if L > 200000 {
			ranges = append(ranges, [2]int64{65530, 20}, [2]int64{131071, 2}, [2]int64{262140, 100}, [2]int64{L - 70000, 69999})
		}
		for _, r := range ranges {
			rc, err := s.OpenRange(ctx, blob, r[0], r[1])
			got := readAll(t, rc, err, fmt.Sprintf("OpenRange(%d, %d) of %d bytes", r[0], r[1], L))
			if want := raw[r[0] : r[0]+r[1]]; !bytes.Equal(got, want) {
				t.Errorf("OpenRange(%d, %d) of %d bytes = %d bytes %.40q, want %d bytes %.40q", r[0], r[1], L, len(got), got, len(want), want)
			}
		}
		// A range past the end is truncated (or refused), never padded.
		if rc, err := s.OpenRange(ctx, blob, L-3, 100); err == nil {
			if got := readAll(t, rc, nil, "OpenRange past end"); !bytes.Equal(got, raw[L-3:]) {
				t.Errorf("OpenRange(L-3, 100) = %q, want %q", got, raw[L-3:])
			}
		}
	}
	_, err := s.OpenRange(ctx, strings.Repeat("0", 64), 0, 10)
	wantErr(t, "OpenRange unknown blob", err, store.ErrNotFound)
}

func testListUIDSets(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "m", 6)
	_, err := s.ExpungeUIDs(t.Context(), a.ID, inbox.ID, []uint32{u[2]})
	noErr(t, "ExpungeUIDs", err)
	cases := []struct {
		set  store.UIDSet
		want []uint32
	}{
		{nil, []uint32{u[0], u[1], u[3], u[4], u[5]}},
		{store.UIDSet{}, nil},
		{set(u[1]), []uint32{u[1]}},
		{set(u[2]), nil},
		{store.UIDSet{{Lo: u[1], Hi: u[3]}}, []uint32{u[1], u[3]}},
		{store.UIDSet{{Lo: u[4], Hi: 0}}, []uint32{u[4], u[5]}},
		{store.UIDSet{{Lo: u[5], Hi: u[5]}, {Lo: u[0], Hi: u[0]}}, []uint32{u[0], u[5]}},
		{store.UIDSet{{Lo: u[0], Hi: u[1]}, {Lo: u[1], Hi: u[3]}}, []uint32{u[0], u[1], u[3]}},
		{store.UIDSet{{Lo: u[5] + 1, Hi: 0}}, nil},
		{store.UIDSet{{Lo: u[5] + 1, Hi: u[5] + 100}}, nil},
	}
	for _, c := range cases {
		wantUIDs(t, fmt.Sprintf("List(%v)", c.set), uidsOf(list(t, s, a.ID, inbox.ID, c.set)), c.want)
	}
}

func testParsed(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	date := time.Date(2024, 3, 4, 10, 11, 12, 0, time.UTC)
	raw := Msg{
		From: "Alice Liddell <alice@wonderland.example>", To: "Bob <bob@example.org>",
		Subject: "=?UTF-8?Q?Caf=C3=A9_tonight?=", Date: date,
		Body: "See you at the café at eight.\n",
	}.Bytes()
	uid := appendMsg(t, s, a.ID, inbox.ID, raw, nil, date)
	msgs, err := s.List(ctx, a.ID, inbox.ID, set(uid), store.ListOptions{Parsed: true})
	noErr(t, "List Parsed", err)
	if len(msgs) != 1 || msgs[0].Parsed == nil {
		t.Fatalf("List(Parsed) = %+v, want one message with Parsed", msgs)
	}
	p := msgs[0].Parsed
	if p.Subject != "Café tonight" {
		t.Errorf("Parsed.Subject = %q, want decoded %q", p.Subject, "Café tonight")
	}
	if p.Envelope.Subject != "=?UTF-8?Q?Caf=C3=A9_tonight?=" {
		t.Errorf("Envelope.Subject = %q, want the raw value", p.Envelope.Subject)
	}
	if len(p.Envelope.From) != 1 || p.Envelope.From[0].Mailbox != "alice" || p.Envelope.From[0].Host != "wonderland.example" || p.Envelope.From[0].Name != "Alice Liddell" {
		t.Errorf("Envelope.From = %+v", p.Envelope.From)
	}
	if len(p.Envelope.To) != 1 || p.Envelope.To[0].Mailbox != "bob" || p.Envelope.To[0].Host != "example.org" {
		t.Errorf("Envelope.To = %+v", p.Envelope.To)
	}
	if !strings.HasPrefix(p.Envelope.MessageID, "<") {
		t.Errorf("Envelope.MessageID = %q", p.Envelope.MessageID)
	}
	if !p.Date.Equal(date) {
		t.Errorf("Parsed.Date = %v, want %v", p.Date, date)
	}
	if p.Body == nil || p.Body.Type != "text" || p.Body.Subtype != "plain" {
		t.Fatalf("Parsed.Body = %+v, want text/plain", p.Body)
	}
	if p.Body.End != int64(len(raw)) || p.Body.BodyStart <= 0 || !bytes.HasPrefix(raw[p.Body.BodyStart:], []byte("See you")) {
		t.Errorf("Parsed.Body offsets BodyStart %d End %d, message %d bytes", p.Body.BodyStart, p.Body.End, len(raw))
	}
	if !strings.Contains(p.Preview, "café at eight") {
		t.Errorf("Parsed.Preview = %q", p.Preview)
	}
	// Without the option, no Parsed (it costs a decode).
	if m := one(t, s, a.ID, inbox.ID, uid); m.Parsed != nil {
		t.Errorf("List without Parsed filled Parsed")
	}
}

func testPOPHidden(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "pop", 3)
	for _, m := range list(t, s, a.ID, inbox.ID, nil) {
		if m.POPHidden {
			t.Fatalf("new message %d POPHidden", m.UID)
		}
	}
	noErr(t, "SetPOPHidden", s.SetPOPHidden(ctx, a.ID, inbox.ID, []uint32{u[0], u[2]}))
	for _, m := range list(t, s, a.ID, inbox.ID, nil) {
		if want := m.UID != u[1]; m.POPHidden != want {
			t.Errorf("message %d POPHidden = %v, want %v", m.UID, m.POPHidden, want)
		}
	}
	// Hidden messages stay for IMAP: still counted and listed.
	if n := mbox(t, s, a.ID, "INBOX").Messages; n != 3 {
		t.Errorf("INBOX has %d messages after SetPOPHidden, want 3", n)
	}
	b := account(t, s, "bob@example.org")
	err := s.SetPOPHidden(ctx, b.ID, inbox.ID, []uint32{u[1]})
	wantErr(t, "SetPOPHidden in another account's mailbox", err, store.ErrNotFound)
	if one(t, s, a.ID, inbox.ID, u[1]).POPHidden {
		t.Errorf("another account hid alice's message")
	}
}

func testAppendMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	work := createMbox(t, s, a.ID, "Work")
	sub := s.Subscribe(a.ID)
	defer sub.Close()
	d1 := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	msgs := []store.AppendMessage{
		{Raw: Msg{Subject: "one", Body: "first\n"}.Bytes(), Flags: []string{store.FlagSeen}, Date: d1},
		{Raw: Msg{Subject: "two", Body: "second\n"}.Bytes(), Flags: []string{"todo"}},
		{Raw: Msg{Subject: "one", Body: "first\n"}.Bytes()}, // the same bytes again: its own message
	}
	uv, uids, err := s.AppendMany(ctx, a.ID, work.ID, msgs)
	noErr(t, "AppendMany", err)
	if uv != work.UIDValidity || len(uids) != 3 || uids[0] != work.UIDNext || uids[1] != uids[0]+1 || uids[2] != uids[0]+2 {
		t.Fatalf("AppendMany = %d %v; want UIDVALIDITY %d and UIDs from %d", uv, uids, work.UIDValidity, work.UIDNext)
	}
	got := list(t, s, a.ID, work.ID, nil)
	if len(got) != 3 {
		t.Fatalf("Work has %d messages", len(got))
	}
	wantFlags(t, "first", got[0].Flags, []string{store.FlagSeen})
	wantFlags(t, "second", got[1].Flags, []string{"todo"})
	if !got[0].InternalDate.Equal(d1) || got[1].InternalDate.IsZero() {
		t.Errorf("internal dates %v %v", got[0].InternalDate, got[1].InternalDate)
	}
	if got[0].ModSeq != got[1].ModSeq || got[1].ModSeq != got[2].ModSeq {
		t.Errorf("MODSEQs %d %d %d, want one", got[0].ModSeq, got[1].ModSeq, got[2].ModSeq)
	}
	for i, m := range got {
		rc, err := s.Open(ctx, m.BlobID)
		if b := readAll(t, rc, err, "Open"); !bytes.Equal(b, msgs[i].Raw) {
			t.Errorf("message %d reads %q", i, b)
		}
	}
	if mb := mboxByID(t, s, a.ID, work.ID); mb.Messages != 3 || mb.Unseen != 2 || mb.UIDNext != uids[2]+1 {
		t.Errorf("Work counters: %d messages, %d unseen, UIDNEXT %d", mb.Messages, mb.Unseen, mb.UIDNext)
	}
	var news []store.Change
	deadline := time.After(5 * time.Second)
	for len(news) == 0 {
		select {
		case <-sub.C():
			chs, _ := sub.Next()
			for _, ch := range chs {
				if ch.Kind == store.ChangeNew && ch.MailboxID == work.ID {
					news = append(news, ch)
				}
			}
		case <-deadline:
			t.Fatal("no change published")
		}
	}
	if len(news) != 1 || len(news[0].UIDs) != 3 {
		t.Errorf("changes %+v, want one for the three", news)
	}

	// All or none: an invalid flag on the last, or the quota, refuses all.
	bad := append(msgs[:2:2], store.AppendMessage{Raw: msgs[0].Raw, Flags: []string{"bad flag"}})
	_, _, err = s.AppendMany(ctx, a.ID, work.ID, bad)
	wantErr(t, "AppendMany with an invalid flag", err, store.ErrInvalidFlag)
	used := accountByID(t, s, a.ID).UsedMessages
	noErr(t, "SetQuota", s.SetQuota(ctx, a.Address, 0, used+2))
	_, _, err = s.AppendMany(ctx, a.ID, work.ID, msgs)
	wantErr(t, "AppendMany over quota", err, store.ErrOverQuota)
	if n := mboxByID(t, s, a.ID, work.ID).Messages; n != 3 {
		t.Errorf("Work has %d messages after refused AppendMany calls, want 3", n)
	}
	_, _, err = s.AppendMany(ctx, a.ID, work.ID+1000, msgs[:1])
	wantErr(t, "AppendMany to unknown mailbox", err, store.ErrNotFound)
	if _, uids, err := s.AppendMany(ctx, a.ID, work.ID, nil); err != nil || len(uids) != 0 {
		t.Errorf("AppendMany of nothing = %v, %v", uids, err)
	}
}
