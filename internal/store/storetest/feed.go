package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gannet/internal/store"
)

func feedTests() []subtest {
	return []subtest{
		{"Kinds", testFeedKinds},
		{"Accounts", testFeedAccounts},
		{"SlowReader", testFeedSlowReader},
	}
}

const feedWait = 5 * time.Second

// feedReader drains a Subscription in its own goroutine, checks on receipt of
// every change that the store already shows it (published after commit), and
// forwards the changes.
type feedReader struct {
	out  chan store.Change
	errs chan string
	stop chan struct{}
	done chan struct{}
}

func newFeedReader(t *testing.T, s store.Store, sub store.Subscription, verify bool) *feedReader {
	f := &feedReader{out: make(chan store.Change, 4096), errs: make(chan string, 100), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for {
			select {
			case <-f.stop:
				return
			case <-sub.C():
			}
			changes, overflowed := sub.Next()
			if overflowed {
				f.errs <- "subscription overflowed with a handful of changes"
			}
			for _, c := range changes {
				if verify {
					if msg := visible(s, c); msg != "" {
						select {
						case f.errs <- msg:
						default:
						}
					}
				}
				f.out <- c
			}
		}
	}()
	t.Cleanup(func() { close(f.stop); <-f.done; sub.Close() })
	return f
}

// visible reports what of change c is not yet visible in s ("" if all is).
func visible(s store.Store, c store.Change) string {
	ctx := context.Background()
	a, err := s.AccountByID(ctx, c.AccountID)
	if err != nil {
		return fmt.Sprintf("change %+v: AccountByID: %v", c, err)
	}
	if a.ModSeq < c.ModSeq {
		return fmt.Sprintf("change %+v received while the account ModSeq is still %d (published before commit?)", c, a.ModSeq)
	}
	switch c.Kind {
	case store.ChangeNew:
		if len(c.UIDs) == 0 {
			return ""
		}
		msgs, err := s.List(ctx, c.AccountID, c.MailboxID, setOf(c.UIDs), store.ListOptions{})
		if err != nil {
			return fmt.Sprintf("change %+v: List: %v", c, err)
		}
		if len(msgs) != len(c.UIDs) {
			return fmt.Sprintf("change %+v received but List shows only %v (published before commit?)", c, uidsOf(msgs))
		}
	case store.ChangeExpunge:
		if len(c.UIDs) == 0 {
			return ""
		}
		msgs, err := s.List(ctx, c.AccountID, c.MailboxID, setOf(c.UIDs), store.ListOptions{})
		if err == nil && len(msgs) != 0 {
			return fmt.Sprintf("expunge change %+v received but List still shows %v (published before commit?)", c, uidsOf(msgs))
		}
	case store.ChangeFlags:
		mb, err := s.MailboxByID(ctx, c.AccountID, c.MailboxID)
		if err == nil && mb.HighestModSeq < c.ModSeq {
			return fmt.Sprintf("flags change %+v received but HIGHESTMODSEQ is %d (published before commit?)", c, mb.HighestModSeq)
		}
	}
	return ""
}

func setOf(uids []uint32) store.UIDSet { return set(uids...) }

type kindBox struct {
	kind store.ChangeKind
	mb   int64
}

// expect waits for changes covering want (in any order) and fails on anything else.
func (f *feedReader) expect(t *testing.T, what string, want ...kindBox) []store.Change {
	t.Helper()
	var got []store.Change
	left := slices.Clone(want)
	deadline := time.After(feedWait)
	for len(left) > 0 {
		select {
		case c := <-f.out:
			got = append(got, c)
			i := slices.Index(left, kindBox{c.Kind, c.MailboxID})
			if i < 0 {
				t.Errorf("%s: unexpected change %+v (kind %v); want %v", what, c, c.Kind, want)
				continue
			}
			left = slices.Delete(left, i, i+1)
		case msg := <-f.errs:
			t.Errorf("%s: %s", what, msg)
		case <-deadline:
			t.Fatalf("%s: no change %v within %v (got %+v)", what, left, feedWait, got)
		}
	}
	// One write may be published as several changes of the same kind (one per
	// modseq, say); take those too.
	for {
		select {
		case c := <-f.out:
			got = append(got, c)
			if !slices.Contains(want, kindBox{c.Kind, c.MailboxID}) {
				t.Errorf("%s: unexpected change %+v (kind %v); want %v", what, c, c.Kind, want)
			}
		case <-time.After(20 * time.Millisecond):
			return got
		}
	}
}

// quiet checks that nothing more arrives within a short while.
func (f *feedReader) quiet(t *testing.T, what string) {
	t.Helper()
	select {
	case c := <-f.out:
		t.Errorf("%s: unexpected change %+v", what, c)
	case msg := <-f.errs:
		t.Errorf("%s: %s", what, msg)
	case <-time.After(50 * time.Millisecond):
	}
}

func testFeedKinds(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	f := newFeedReader(t, s, s.Subscribe(a.ID), true)
	var last uint64
	check := func(what string, changes []store.Change, uids []uint32) {
		t.Helper()
		ms := acctModSeq(t, s, a.ID)
		var max uint64
		for _, c := range changes {
			if c.AccountID != a.ID {
				t.Errorf("%s: change AccountID %d, want %d", what, c.AccountID, a.ID)
			}
			if c.ModSeq <= last {
				t.Errorf("%s: change ModSeq %d, not above the previous operation's %d", what, c.ModSeq, last)
			}
			if uids != nil && len(c.UIDs) > 0 && c.Kind != store.ChangeMailbox && !slices.Equal(c.UIDs, uids) {
				t.Errorf("%s: change UIDs %v, want %v", what, c.UIDs, uids)
			}
			max = maxU64(max, c.ModSeq)
		}
		if max != ms {
			t.Errorf("%s: newest change ModSeq %d, want the account's ModSeq %d", what, max, ms)
		}
		last = max
	}

	res := deliver(t, s, store.Delivery{Raw: Msg{Subject: "feed"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
	check("Deliver", f.expect(t, "Deliver", kindBox{store.ChangeNew, inbox.ID}), []uint32{res[0].UID})

	storeFlags(t, s, a.ID, inbox.ID, set(res[0].UID), store.FlagsAdd, []string{store.FlagSeen})
	check("StoreFlags", f.expect(t, "StoreFlags", kindBox{store.ChangeFlags, inbox.ID}), []uint32{res[0].UID})

	// A store that changes nothing publishes nothing.
	storeFlags(t, s, a.ID, inbox.ID, set(res[0].UID), store.FlagsAdd, []string{store.FlagSeen})
	f.quiet(t, "no-op StoreFlags")

	_, err := s.ExpungeUIDs(ctx, a.ID, inbox.ID, []uint32{res[0].UID})
	noErr(t, "ExpungeUIDs", err)
	check("ExpungeUIDs", f.expect(t, "ExpungeUIDs", kindBox{store.ChangeExpunge, inbox.ID}), []uint32{res[0].UID})

	box := createMbox(t, s, a.ID, "Feed")
	check("CreateMailbox", f.expect(t, "CreateMailbox", kindBox{store.ChangeMailbox, box.ID}), nil)

	u := appendMsg(t, s, a.ID, box.ID, Msg{Subject: "feed append"}.Bytes(), nil, time.Time{})
	check("Append", f.expect(t, "Append", kindBox{store.ChangeNew, box.ID}), []uint32{u})

	cr, err := s.Copy(ctx, a.ID, box.ID, nil, inbox.ID)
	noErr(t, "Copy", err)
	check("Copy", f.expect(t, "Copy", kindBox{store.ChangeNew, inbox.ID}), cr.DstUIDs)

	_, err = s.Move(ctx, a.ID, box.ID, nil, inbox.ID)
	noErr(t, "Move", err)
	check("Move", f.expect(t, "Move", kindBox{store.ChangeExpunge, box.ID}, kindBox{store.ChangeNew, inbox.ID}), nil)

	storeFlags(t, s, a.ID, inbox.ID, nil, store.FlagsAdd, []string{store.FlagDeleted})
	check("StoreFlags all", f.expect(t, "StoreFlags all", kindBox{store.ChangeFlags, inbox.ID}), nil)
	_, err = s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge", err)
	check("Expunge", f.expect(t, "Expunge", kindBox{store.ChangeExpunge, inbox.ID}), nil)

	noErr(t, "RenameMailbox", s.RenameMailbox(ctx, a.ID, "Feed", "Feed2"))
	check("RenameMailbox", f.expect(t, "RenameMailbox", kindBox{store.ChangeMailbox, box.ID}), nil)
	// Subscriptions are names rather than mailboxes (RFC 9051 6.3.7), so the change
	// may carry MailboxID 0.
	noErr(t, "SubscribeMailbox", s.SubscribeMailbox(ctx, a.ID, "Feed2", !mbox(t, s, a.ID, "Feed2").Subscribed))
	select {
	case c := <-f.out:
		if c.Kind != store.ChangeMailbox || (c.MailboxID != box.ID && c.MailboxID != 0) || c.AccountID != a.ID {
			t.Errorf("SubscribeMailbox: change %+v, want kind mailbox for mailbox %d (or 0)", c, box.ID)
		}
	case <-time.After(feedWait):
		t.Errorf("SubscribeMailbox: no change within %v", feedWait)
	}
	noErr(t, "DeleteMailbox", s.DeleteMailbox(ctx, a.ID, "Feed2"))
	f.expect(t, "DeleteMailbox", kindBox{store.ChangeMailbox, box.ID})
	f.quiet(t, "after the last operation")
}

func testFeedAccounts(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	aInbox, bInbox := mbox(t, s, a.ID, "INBOX"), mbox(t, s, b.ID, "INBOX")
	fb := newFeedReader(t, s, s.Subscribe(b.ID), false)
	fall := newFeedReader(t, s, s.Subscribe(0), false)

	// Alice's changes.
	res := deliver(t, s, store.Delivery{Raw: Msg{Subject: "for alice"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
	storeFlags(t, s, a.ID, aInbox.ID, nil, store.FlagsAdd, []string{store.FlagFlagged})
	createMbox(t, s, a.ID, "Private")
	_, err := s.ExpungeUIDs(t.Context(), a.ID, aInbox.ID, []uint32{res[0].UID})
	noErr(t, "ExpungeUIDs", err)
	// Then one for bob: changes arrive in commit order, so once bob's arrives any
	// leaked change of alice's would have arrived before it.
	deliver(t, s, store.Delivery{Raw: Msg{Subject: "for bob"}.Bytes(), Recipients: []store.Recipient{{AccountID: b.ID}}})
	got := fb.expect(t, "bob's subscriber", kindBox{store.ChangeNew, bInbox.ID})
	if len(got) != 1 || got[0].AccountID != b.ID {
		t.Errorf("bob's subscriber got %+v, want only bob's delivery", got)
	}
	fb.quiet(t, "bob's subscriber")

	all := fall.expect(t, "all-accounts subscriber",
		kindBox{store.ChangeNew, aInbox.ID}, kindBox{store.ChangeFlags, aInbox.ID},
		kindBox{store.ChangeMailbox, mbox(t, s, a.ID, "Private").ID}, kindBox{store.ChangeExpunge, aInbox.ID},
		kindBox{store.ChangeNew, bInbox.ID})
	for i, c := range all {
		want := a.ID
		if i == len(all)-1 {
			want = b.ID
		}
		if c.AccountID != want {
			t.Errorf("all-accounts change %d = %+v, want account %d (commit order)", i, c, want)
		}
	}
}

// testFeedSlowReader: a subscriber that never reads does not block writers; when
// it reads at last it gets every change in order or is told it overflowed.
func testFeedSlowReader(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	sub := s.Subscribe(a.ID)
	closed := s.Subscribe(a.ID)
	closed.Close()
	const writers, per = 4, 25
	const n = writers * per
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range per {
					raw := Msg{Subject: fmt.Sprintf("flood %d/%d", w, i)}.Bytes()
					if _, err := s.Append(context.Background(), a.ID, inbox.ID, raw, nil, time.Time{}); err != nil {
						t.Errorf("Append %d/%d: %v", w, i, err)
						return
					}
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("writers blocked by a subscriber that does not read")
	}
	select {
	case <-sub.C():
	case <-time.After(feedWait):
		t.Fatalf("C() not signalled after %d changes", n)
	}
	var all []store.Change
	overflow := false
	for {
		changes, of := sub.Next()
		overflow = overflow || of
		all = append(all, changes...)
		if len(changes) == 0 && !of {
			break
		}
	}
	sub.Close()
	for i := 1; i < len(all); i++ {
		if all[i].ModSeq <= all[i-1].ModSeq {
			t.Errorf("changes out of order: %d then %d", all[i-1].ModSeq, all[i].ModSeq)
			break
		}
	}
	if !overflow && len(all) != n {
		t.Errorf("got %d changes without overflow, want %d", len(all), n)
	}
	// Writes after Close of a subscription still work.
	appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "after close"}.Bytes(), nil, time.Time{})
}
