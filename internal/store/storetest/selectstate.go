package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

// Huge mailboxes (docs/ARCHITECTURE.md): SELECT's snapshot without the
// message rows, and List a page at a time.
func selectStateTests() []subtest {
	return []subtest{
		{"SelectEmpty", testSelectEmpty},
		{"SelectState", testSelectState},
		{"SelectOtherAccount", testSelectOtherAccount},
		{"ListPages", testListPages},
		{"ListPageBadLimit", testListPageBadLimit},
	}
}

// expandUIDs lists the UIDs of a set of closed ranges.
func expandUIDs(set store.UIDSet) []uint32 {
	var out []uint32
	for _, r := range set {
		if r.Hi == 0 || r.Hi < r.Lo {
			return append(out, 0) // not closed and ascending: fails any comparison
		}
		for u := r.Lo; ; u++ {
			out = append(out, u)
			if u == r.Hi {
				break
			}
		}
	}
	return out
}

func testSelectEmpty(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	st, err := s.SelectMailbox(t.Context(), a.ID, inbox.ID)
	noErr(t, "SelectMailbox", err)
	if len(st.UIDs) != 0 || st.FirstUnseen != 0 || len(st.Keywords) != 0 || st.Messages != 0 {
		t.Errorf("empty mailbox: UIDs %v first unseen %d keywords %v messages %d", st.UIDs, st.FirstUnseen, st.Keywords, st.Messages)
	}
	if st.ID != inbox.ID || st.UIDValidity != inbox.UIDValidity || st.UIDNext != inbox.UIDNext || st.Name != "INBOX" {
		t.Errorf("SelectMailbox %+v, Mailbox %+v", st.Mailbox, *inbox)
	}
}

func testSelectState(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	other := mbox(t, s, a.ID, "Archive")
	seen := []string{store.FlagSeen}
	flags := [][]string{seen, seen, {store.FlagSeen, "$Work"}, nil, {"$Later"}, seen, {store.FlagSeen, "$Work", "$Urgent"}}
	var u []uint32
	for i, f := range flags {
		u = append(u, appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: fmt.Sprintf("sel %d", i)}.Bytes(), f, time.Time{}))
	}
	appendMsg(t, s, a.ID, other.ID, Msg{Subject: "elsewhere"}.Bytes(), []string{"$Elsewhere"}, time.Time{})
	// Expunge the first, one in the middle, and move one out: tombstones.
	storeFlags(t, s, a.ID, inbox.ID, set(u[0], u[3]), store.FlagsAdd, []string{store.FlagDeleted})
	_, err := s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge", err)
	_, err = s.Move(ctx, a.ID, inbox.ID, set(u[5]), other.ID)
	noErr(t, "Move", err)
	st, err := s.SelectMailbox(ctx, a.ID, inbox.ID)
	noErr(t, "SelectMailbox", err)
	want := []uint32{u[1], u[2], u[4], u[6]}
	wantUIDs(t, "SelectMailbox UIDs", expandUIDs(st.UIDs), want)
	wantUIDs(t, "List UIDs", uidsOf(list(t, s, a.ID, inbox.ID, nil)), want)
	if st.FirstUnseen != u[4] {
		t.Errorf("FirstUnseen %d, want %d", st.FirstUnseen, u[4])
	}
	if kw := []string{"$Later", "$Urgent", "$Work"}; !slices.Equal(st.Keywords, kw) {
		t.Errorf("Keywords %q, want %q", st.Keywords, kw)
	}
	mb := mbox(t, s, a.ID, "INBOX")
	if st.Messages != 4 || st.UIDNext != mb.UIDNext || st.HighestModSeq != mb.HighestModSeq || st.Unseen != mb.Unseen {
		t.Errorf("SelectMailbox counts %+v, Mailbox %+v", st.Mailbox, *mb)
	}
	// Seeing the first unseen moves it; keywords removed everywhere vanish.
	storeFlags(t, s, a.ID, inbox.ID, set(u[4]), store.FlagsAdd, seen)
	storeFlags(t, s, a.ID, inbox.ID, nil, store.FlagsRemove, []string{"$Work", "$Urgent"})
	st, err = s.SelectMailbox(ctx, a.ID, inbox.ID)
	noErr(t, "SelectMailbox after STORE", err)
	if st.FirstUnseen != 0 {
		t.Errorf("FirstUnseen %d with every message seen", st.FirstUnseen)
	}
	if !slices.Equal(st.Keywords, []string{"$Later"}) {
		t.Errorf("Keywords %q, want [$Later]", st.Keywords)
	}
	// New mail after the expunges is listed too.
	nu := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "new"}.Bytes(), nil, time.Time{})
	st, err = s.SelectMailbox(ctx, a.ID, inbox.ID)
	noErr(t, "SelectMailbox after append", err)
	wantUIDs(t, "UIDs after append", expandUIDs(st.UIDs), append(want, nu))
	if st.FirstUnseen != nu {
		t.Errorf("FirstUnseen %d, want %d", st.FirstUnseen, nu)
	}
}

func testSelectOtherAccount(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	b := account(t, s, "bob@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	_, err := s.SelectMailbox(t.Context(), b.ID, inbox.ID)
	wantErr(t, "SelectMailbox of another account's mailbox", err, store.ErrNotFound)
	_, err = s.ListPage(t.Context(), b.ID, inbox.ID, nil, store.ListOptions{}, 0, 10)
	wantErr(t, "ListPage of another account's mailbox", err, store.ErrNotFound)
}

// testListPages checks that pages, and ListEach over them, give exactly
// what List gives, for sets of every shape and every page size.
func testListPages(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "page", 30)
	storeFlags(t, s, a.ID, inbox.ID, set(u[0], u[7], u[8], u[20]), store.FlagsAdd, []string{store.FlagDeleted})
	_, err := s.Expunge(ctx, a.ID, inbox.ID, nil)
	noErr(t, "Expunge", err)
	storeFlags(t, s, a.ID, inbox.ID, set(u[2], u[3], u[29]), store.FlagsAdd, []string{store.FlagSeen, "$Work", "$Urgent"})
	storeFlags(t, s, a.ID, inbox.ID, set(u[3], u[10]), store.FlagsAdd, []string{store.FlagAnswered, store.FlagDraft})
	sets := []store.UIDSet{
		nil,
		{},
		{{Lo: u[3], Hi: 0}},
		{{Lo: u[2], Hi: u[25]}},
		set(u[29], u[1], u[8], u[15], u[16], u[17]),
		{{Lo: u[1], Hi: u[4]}, {Lo: u[3], Hi: u[10]}, {Lo: u[18], Hi: u[27]}, {Lo: u[29] + 5, Hi: 0}},
	}
	for i, uset := range sets {
		want := uidsOf(list(t, s, a.ID, inbox.ID, uset))
		for _, limit := range []int{1, 2, 3, 7, 100} {
			var got []uint32
			after := uint32(0)
			for {
				page, err := s.ListPage(ctx, a.ID, inbox.ID, uset, store.ListOptions{Parsed: limit == 2}, after, limit)
				noErr(t, "ListPage", err)
				if len(page) > limit {
					t.Fatalf("set %d: page of %d with limit %d", i, len(page), limit)
				}
				for _, m := range page {
					if limit == 2 && m.Parsed == nil {
						t.Fatalf("set %d: ListPage with Parsed gave no parse results", i)
					}
					got = append(got, m.UID)
				}
				if len(page) < limit {
					break
				}
				after = page[len(page)-1].UID
			}
			wantUIDs(t, fmt.Sprintf("set %d, pages of %d", i, limit), got, want)
		}
		var each []uint32
		err := store.ListEach(ctx, s, a.ID, inbox.ID, uset, store.ListOptions{}, func(page []store.Message) error {
			each = append(each, uidsOf(page)...)
			return nil
		})
		noErr(t, "ListEach", err)
		wantUIDs(t, fmt.Sprintf("set %d, ListEach", i), each, want)
		// FlagsOnly: the same UIDs, MODSEQs and flags.
		full := list(t, s, a.ID, inbox.ID, uset)
		var light []store.Message
		err = store.ListEach(ctx, s, a.ID, inbox.ID, uset, store.ListOptions{FlagsOnly: true}, func(page []store.Message) error {
			light = append(light, page...)
			return nil
		})
		noErr(t, "ListEach FlagsOnly", err)
		if len(light) != len(full) {
			t.Fatalf("set %d: FlagsOnly listed %d messages, List %d", i, len(light), len(full))
		}
		for j := range full {
			f, l := full[j], light[j]
			if f.UID != l.UID || f.ModSeq != l.ModSeq || !slices.Equal(f.Flags, l.Flags) || l.MailboxID != inbox.ID {
				t.Errorf("set %d: FlagsOnly %d %d %q (mailbox %d), List %d %d %q", i, l.UID, l.ModSeq, l.Flags, l.MailboxID, f.UID, f.ModSeq, f.Flags)
			}
		}
	}
	stop := errors.New("stop")
	err = store.ListEach(ctx, s, a.ID, inbox.ID, nil, store.ListOptions{}, func([]store.Message) error { return stop })
	if !errors.Is(err, stop) {
		t.Errorf("ListEach returned %v, want fn's error", err)
	}
}

func testListPageBadLimit(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	for _, limit := range []int{0, -1} {
		_, err := s.ListPage(t.Context(), a.ID, inbox.ID, nil, store.ListOptions{}, 0, limit)
		wantErr(t, fmt.Sprintf("ListPage limit %d", limit), err, store.ErrBadPage)
	}
}
