package storetest

import (
	"errors"
	"testing"
	"time"

	"gannet/internal/store"
)

func quotaTests() []subtest {
	return []subtest{
		{"Messages", testQuotaMessages},
		{"Bytes", testQuotaBytes},
		{"UsedCounters", testQuotaUsed},
	}
}

func testQuotaMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := account(t, s, "alice@example.org")
	carol := account(t, s, "carol@example.org")
	noErr(t, "SetQuota", s.SetQuota(ctx, "carol@example.org", 0, 1))
	cInbox := mbox(t, s, carol.ID, "INBOX")

	first := Msg{Subject: "first"}.Bytes()
	deliver(t, s, store.Delivery{Raw: first, Recipients: []store.Recipient{{AccountID: carol.ID}}})

	second := Msg{Subject: "second"}.Bytes()
	res, err := s.Deliver(ctx, store.Delivery{Raw: second, Recipients: []store.Recipient{
		{AccountID: alice.ID}, {AccountID: carol.ID}, {AccountID: alice.ID, Mailbox: "Archive"},
	}})
	noErr(t, "Deliver with one recipient over quota", err)
	if len(res) != 3 {
		t.Fatalf("Deliver returned %d results, want 3", len(res))
	}
	if !errors.Is(res[1].Err, store.ErrOverQuota) {
		t.Errorf("over-quota recipient Err = %v, want ErrOverQuota", res[1].Err)
	}
	for _, i := range []int{0, 2} {
		if res[i].Err != nil || res[i].UID == 0 {
			t.Errorf("recipient %d result %+v, want stored", i, res[i])
		}
	}
	if n := mbox(t, s, alice.ID, "INBOX").Messages + mbox(t, s, alice.ID, "Archive").Messages; n != 2 {
		t.Errorf("alice has %d messages, want 2 (the other recipients are stored)", n)
	}
	if n := mboxByID(t, s, carol.ID, cInbox.ID).Messages; n != 1 {
		t.Errorf("carol has %d messages, want 1", n)
	}
	if c := accountByID(t, s, carol.ID); c.UsedMessages != 1 || c.UsedBytes != int64(len(first)) {
		t.Errorf("carol Used = %d messages %d bytes, want 1 %d", c.UsedMessages, c.UsedBytes, len(first))
	}

	_, err = s.Append(ctx, carol.ID, cInbox.ID, Msg{Subject: "appended"}.Bytes(), nil, time.Time{})
	wantErr(t, "Append over quota", err, store.ErrOverQuota)
	// COPY over quota fails as a whole (RFC 9208 4.2.1 / RFC 9051 6.4.7).
	_, err = s.Copy(ctx, carol.ID, cInbox.ID, nil, mbox(t, s, carol.ID, "Archive").ID)
	wantErr(t, "Copy over quota", err, store.ErrOverQuota)
	if n := mbox(t, s, carol.ID, "Archive").Messages; n != 0 {
		t.Errorf("Copy over quota stored %d messages", n)
	}
	// Move does not add messages, so it is allowed at the limit.
	_, err = s.Move(ctx, carol.ID, cInbox.ID, nil, mbox(t, s, carol.ID, "Archive").ID)
	noErr(t, "Move at the quota limit", err)

	// Expunge frees the quota.
	archive := mbox(t, s, carol.ID, "Archive")
	_, err = s.ExpungeUIDs(ctx, carol.ID, archive.ID, []uint32{archive.UIDNext - 1})
	noErr(t, "ExpungeUIDs", err)
	if c := accountByID(t, s, carol.ID); c.UsedMessages != 0 || c.UsedBytes != 0 {
		t.Errorf("carol Used after expunge = %d messages %d bytes, want 0 0", c.UsedMessages, c.UsedBytes)
	}
	appendMsg(t, s, carol.ID, cInbox.ID, Msg{Subject: "fits again"}.Bytes(), nil, time.Time{})

	// Raising the quota lets mail in.
	noErr(t, "SetQuota", s.SetQuota(ctx, "carol@example.org", 0, 0))
	deliver(t, s, store.Delivery{Raw: second, Recipients: []store.Recipient{{AccountID: carol.ID}}})
}

func testQuotaBytes(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	m1 := Msg{Subject: "one", Body: "first body\n"}.Bytes()
	m2 := Msg{Subject: "two", Body: "second body\n"}.Bytes()
	m3 := Msg{Subject: "three", Body: "x\n"}.Bytes()
	// Exactly enough for m1 and m2: reaching the limit is allowed, exceeding it is not.
	noErr(t, "SetQuota", s.SetQuota(ctx, "alice@example.org", int64(len(m1)+len(m2)), 0))
	deliver(t, s, store.Delivery{Raw: m1, Recipients: []store.Recipient{{AccountID: a.ID}}})
	appendMsg(t, s, a.ID, inbox.ID, m2, nil, time.Time{})
	res, err := s.Deliver(ctx, store.Delivery{Raw: m3, Recipients: []store.Recipient{{AccountID: a.ID}}})
	noErr(t, "Deliver over byte quota", err)
	if len(res) != 1 || !errors.Is(res[0].Err, store.ErrOverQuota) {
		t.Errorf("Deliver over byte quota = %+v, want ErrOverQuota", res)
	}
	_, err = s.Append(ctx, a.ID, inbox.ID, m3, nil, time.Time{})
	wantErr(t, "Append over byte quota", err, store.ErrOverQuota)
	if acc := accountByID(t, s, a.ID); acc.UsedBytes != int64(len(m1)+len(m2)) || acc.UsedMessages != 2 {
		t.Errorf("Used = %d bytes %d messages, want %d 2", acc.UsedBytes, acc.UsedMessages, len(m1)+len(m2))
	}
	// A single message larger than the whole quota into an empty account.
	b := account(t, s, "bob@example.org")
	noErr(t, "SetQuota", s.SetQuota(ctx, "bob@example.org", 10, 0))
	_, err = s.Append(ctx, b.ID, mbox(t, s, b.ID, "INBOX").ID, m3, nil, time.Time{})
	wantErr(t, "Append larger than the quota", err, store.ErrOverQuota)
}

func testQuotaUsed(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	work := createMbox(t, s, a.ID, "Work")
	var sizes []int64
	var uids []uint32
	for _, body := range []string{"a\n", "bb bb\n", "ccc ccc ccc\n"} {
		raw := Msg{Subject: "used " + body, Body: body}.Bytes()
		sizes = append(sizes, int64(len(raw)))
		uids = append(uids, appendMsg(t, s, a.ID, inbox.ID, raw, nil, time.Time{}))
	}
	total := sizes[0] + sizes[1] + sizes[2]
	wantUsed := func(what string, n, bytes int64) {
		t.Helper()
		acc := accountByID(t, s, a.ID)
		if acc.UsedMessages != n || acc.UsedBytes != bytes {
			t.Errorf("%s: Used = %d messages %d bytes, want %d %d", what, acc.UsedMessages, acc.UsedBytes, n, bytes)
		}
	}
	wantUsed("after 3 appends", 3, total)
	_, err := s.Copy(ctx, a.ID, inbox.ID, set(uids[0], uids[1]), work.ID)
	noErr(t, "Copy", err)
	wantUsed("after copy of 2", 5, total+sizes[0]+sizes[1])
	_, err = s.Move(ctx, a.ID, inbox.ID, set(uids[2]), work.ID)
	noErr(t, "Move", err)
	wantUsed("after move", 5, total+sizes[0]+sizes[1])
	_, err = s.StoreFlags(ctx, a.ID, inbox.ID, set(uids[0]), store.FlagsAdd, []string{store.FlagDeleted}, 0)
	noErr(t, "StoreFlags", err)
	wantUsed("after flagging \\Deleted", 5, total+sizes[0]+sizes[1])
	_, err = s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge", err)
	wantUsed("after expunge", 4, total+sizes[1])
	_, err = s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{uids[1]})
	noErr(t, "ExpungeUIDs", err)
	wantUsed("after ExpungeUIDs", 3, total)
	noErr(t, "DeleteMailbox Work", s.DeleteMailbox(ctx, a.ID, "Work"))
	wantUsed("after deleting Work", 0, 0)
}
