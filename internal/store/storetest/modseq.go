package storetest

import (
	"fmt"
	"testing"
	"time"

	"gannet/internal/store"
)

func modseqTests() []subtest {
	return []subtest{
		{"EveryChange", testModSeqEveryChange},
		{"MailboxOps", testModSeqMailboxOps},
		{"StoreFlagsReturns", testModSeqStoreFlags},
		{"PerAccount", testModSeqPerAccount},
	}
}

// modseqChecker records the account ModSeq around each operation (step) and checks that it was
// bumped and that the given mailboxes' HIGHESTMODSEQ followed.
type modseqChecker struct {
	t    *testing.T
	s    store.Store
	acct int64
	last uint64
}

func (c *modseqChecker) step(what string, op func() error, mailboxes ...int64) uint64 {
	c.t.Helper()
	if err := op(); err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
	ms := acctModSeq(c.t, c.s, c.acct)
	if ms <= c.last {
		c.t.Errorf("%s: account ModSeq %d → %d, want strictly increasing", what, c.last, ms)
	}
	// Every touched mailbox's HIGHESTMODSEQ moved past the old value, and the
	// newest of them is the account's (one operation touching two mailboxes may
	// use two modseqs).
	var newest uint64
	for _, id := range mailboxes {
		h := mboxByID(c.t, c.s, c.acct, id).HighestModSeq
		if h <= c.last || h > ms {
			c.t.Errorf("%s: mailbox %d HIGHESTMODSEQ %d, want in (%d, %d]", what, id, h, c.last, ms)
		}
		newest = maxU64(newest, h)
	}
	if len(mailboxes) > 0 && newest != ms {
		c.t.Errorf("%s: newest HIGHESTMODSEQ of the touched mailboxes %d, want the account's new ModSeq %d", what, newest, ms)
	}
	c.last = ms
	return ms
}

func testModSeqEveryChange(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	work := createMbox(t, s, a.ID, "Work")
	c := &modseqChecker{t: t, s: s, acct: a.ID, last: acctModSeq(t, s, a.ID)}

	var res []store.DeliveryResult
	c.step("Deliver", func() (err error) {
		res, err = s.Deliver(ctx, store.Delivery{Raw: Msg{Subject: "d"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
		return err
	}, inbox.ID)
	if m := one(t, s, a.ID, inbox.ID, res[0].UID); m.ModSeq != c.last {
		t.Errorf("delivered message ModSeq %d, want %d", m.ModSeq, c.last)
	}
	var u2 uint32
	c.step("Append", func() error {
		r, err := s.Append(ctx, a.ID, inbox.ID, Msg{Subject: "a"}.Bytes(), nil, time.Time{})
		u2 = r.UID
		return err
	}, inbox.ID)
	c.step("StoreFlags", func() error {
		_, err := s.StoreFlags(ctx, a.ID, inbox.ID, set(res[0].UID), store.FlagsAdd, []string{store.FlagSeen}, 0)
		return err
	}, inbox.ID)
	if m := one(t, s, a.ID, inbox.ID, res[0].UID); m.ModSeq != c.last {
		t.Errorf("flagged message ModSeq %d, want %d", m.ModSeq, c.last)
	}
	unchanged := one(t, s, a.ID, inbox.ID, u2).ModSeq
	var cr *store.CopyResult
	c.step("Copy", func() (err error) {
		cr, err = s.Copy(ctx, a.ID, inbox.ID, nil, work.ID)
		return err
	}, work.ID)
	if m := one(t, s, a.ID, inbox.ID, u2); m.ModSeq != unchanged {
		t.Errorf("Copy changed the source message's ModSeq %d → %d", unchanged, m.ModSeq)
	}
	for _, m := range list(t, s, a.ID, work.ID, nil) {
		if m.ModSeq != c.last {
			t.Errorf("copied message %d ModSeq %d, want %d", m.UID, m.ModSeq, c.last)
		}
	}
	c.step("Move", func() error {
		_, err := s.Move(ctx, a.ID, work.ID, set(cr.DstUIDs[0]), inbox.ID)
		return err
	}, inbox.ID, work.ID)
	c.step("StoreFlags \\Deleted", func() error {
		_, err := s.StoreFlags(ctx, a.ID, inbox.ID, set(u2), store.FlagsAdd, []string{store.FlagDeleted}, 0)
		return err
	}, inbox.ID)
	c.step("Expunge", func() error {
		_, err := s.Expunge(ctx, a.ID, inbox.ID, nil)
		return err
	}, inbox.ID)
	c.step("ExpungeUIDs", func() error {
		_, err := s.ExpungeUIDs(ctx, a.ID, work.ID, []uint32{cr.DstUIDs[1]})
		return err
	}, work.ID)
	c.step("Deliver to two mailboxes", func() error {
		_, err := s.Deliver(ctx, store.Delivery{Raw: Msg{Subject: "two"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}, {AccountID: a.ID, Mailbox: "Work"}}})
		return err
	}, inbox.ID, work.ID)
	// After all that the mailboxes' HIGHESTMODSEQ equals their newest message or tombstone.
	for _, id := range []int64{inbox.ID, work.ID} {
		ch, err := s.Changes(ctx, a.ID, id, 0)
		noErr(t, "Changes", err)
		var max uint64
		for _, m := range ch.Changed {
			max = maxU64(max, m.ModSeq)
		}
		h := mboxByID(t, s, a.ID, id).HighestModSeq
		if h < max || ch.HighestModSeq != h {
			t.Errorf("mailbox %d HIGHESTMODSEQ %d (Changes says %d), newest message modseq %d", id, h, ch.HighestModSeq, max)
		}
	}
}

func maxU64(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// testModSeqMailboxOps: mailbox changes bump the account's MODSEQ too (store.go:
// "bumped by every change to any message or mailbox").
func testModSeqMailboxOps(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	c := &modseqChecker{t: t, s: s, acct: a.ID, last: acctModSeq(t, s, a.ID)}
	c.step("CreateMailbox", func() error { _, err := s.CreateMailbox(ctx, a.ID, "M", ""); return err })
	c.step("RenameMailbox", func() error { return s.RenameMailbox(ctx, a.ID, "M", "N") })
	c.step("SubscribeMailbox", func() error { return s.SubscribeMailbox(ctx, a.ID, "N", !mbox(t, s, a.ID, "N").Subscribed) })
	c.step("DeleteMailbox", func() error { return s.DeleteMailbox(ctx, a.ID, "N") })
}

func testModSeqStoreFlags(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "f", 4)
	before := acctModSeq(t, s, a.ID)
	r, err := s.StoreFlags(ctx, a.ID, inbox.ID, set(u[0], u[2], u[3]), store.FlagsAdd, []string{store.FlagFlagged, "work"}, 0)
	noErr(t, "StoreFlags", err)
	if len(r.Modified) != 0 {
		t.Errorf("Modified = %v without UNCHANGEDSINCE", r.Modified)
	}
	var got []uint32
	seen := map[uint64]bool{}
	var max uint64
	for _, up := range r.Updated {
		got = append(got, up.UID)
		if up.ModSeq <= before {
			t.Errorf("update of %d ModSeq %d, not above the previous %d", up.UID, up.ModSeq, before)
		}
		seen[up.ModSeq] = true
		max = maxU64(max, up.ModSeq)
		wantFlags(t, fmt.Sprintf("FlagUpdate %d", up.UID), up.Flags, []string{store.FlagFlagged, "work"})
		if m := one(t, s, a.ID, inbox.ID, up.UID); m.ModSeq != up.ModSeq || !sameFlags(m.Flags, up.Flags) {
			t.Errorf("message %d: List ModSeq %d flags %q, StoreFlags said %d %q", up.UID, m.ModSeq, m.Flags, up.ModSeq, up.Flags)
		}
	}
	wantUIDs(t, "Updated UIDs", got, []uint32{u[0], u[2], u[3]})
	if ms := acctModSeq(t, s, a.ID); ms != max {
		t.Errorf("account ModSeq %d, want the highest returned %d", ms, max)
	}
	if h := mboxByID(t, s, a.ID, inbox.ID).HighestModSeq; h != max {
		t.Errorf("HIGHESTMODSEQ %d, want %d", h, max)
	}
	if m := one(t, s, a.ID, inbox.ID, u[1]); m.ModSeq > before {
		t.Errorf("untouched message %d ModSeq %d moved past %d", u[1], m.ModSeq, before)
	}
}

func testModSeqPerAccount(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	msA := acctModSeq(t, s, a.ID)
	msB := acctModSeq(t, s, b.ID)
	bInbox := mbox(t, s, b.ID, "INBOX")
	u := appendN(t, s, b.ID, bInbox.ID, "bob", 2)
	_, err := s.StoreFlags(ctx, b.ID, bInbox.ID, nil, store.FlagsAdd, []string{store.FlagSeen}, 0)
	noErr(t, "StoreFlags", err)
	_, err = s.ExpungeUIDs(ctx, b.ID, bInbox.ID, u[:1])
	noErr(t, "ExpungeUIDs", err)
	createMbox(t, s, b.ID, "Bobs")
	if got := acctModSeq(t, s, a.ID); got != msA {
		t.Errorf("bob's changes moved alice's ModSeq %d → %d", msA, got)
	}
	if got := acctModSeq(t, s, b.ID); got <= msB {
		t.Errorf("bob's ModSeq %d → %d", msB, got)
	}
	// Delivery to both bumps both.
	deliver(t, s, store.Delivery{Raw: Msg{Subject: "both"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}, {AccountID: b.ID}}})
	if got := acctModSeq(t, s, a.ID); got <= msA {
		t.Errorf("delivery to alice did not bump her ModSeq (%d)", got)
	}
}
