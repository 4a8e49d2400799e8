package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
)

func flagTests() []subtest {
	return []subtest{
		{"SetAddRemove", testFlagsSetAddRemove},
		{"Canonical", testFlagsCanonical},
		{"Order", testFlagsOrder},
		{"Invalid", testFlagsInvalid},
		{"UnchangedSince", testFlagsUnchangedSince},
		{"NoOpKeepsModSeq", testFlagsNoOp},
	}
}

func storeFlags(t *testing.T, s store.Store, acct, mb int64, uids store.UIDSet, op store.FlagOp, flags []string) *store.StoreResult {
	t.Helper()
	r, err := s.StoreFlags(t.Context(), acct, mb, uids, op, flags, 0)
	if err != nil {
		t.Fatalf("StoreFlags(%v, op %d, %q): %v", uids, op, flags, err)
	}
	return r
}

func testFlagsSetAddRemove(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "flags", 3)
	flagsOf := func(uid uint32) []string { return one(t, s, a.ID, inbox.ID, uid).Flags }

	storeFlags(t, s, a.ID, inbox.ID, set(u[0], u[1]), store.FlagsAdd, []string{store.FlagSeen, "$Forwarded"})
	wantFlags(t, "u0 after +FLAGS", flagsOf(u[0]), []string{store.FlagSeen, "$Forwarded"})
	wantFlags(t, "u1 after +FLAGS", flagsOf(u[1]), []string{store.FlagSeen, "$Forwarded"})
	wantFlags(t, "u2 untouched", flagsOf(u[2]), nil)

	storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsAdd, []string{store.FlagAnswered, store.FlagFlagged, store.FlagDraft, store.FlagDeleted, "project-x"})
	wantFlags(t, "u0 after second +FLAGS", flagsOf(u[0]),
		[]string{store.FlagSeen, store.FlagAnswered, store.FlagFlagged, store.FlagDraft, store.FlagDeleted, "$Forwarded", "project-x"})

	r := storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsRemove, []string{store.FlagSeen, "$Forwarded", "not-set"})
	want := []string{store.FlagAnswered, store.FlagFlagged, store.FlagDraft, store.FlagDeleted, "project-x"}
	wantFlags(t, "u0 after -FLAGS", flagsOf(u[0]), want)
	if len(r.Updated) != 1 || r.Updated[0].UID != u[0] {
		t.Errorf("-FLAGS Updated = %+v, want just %d", r.Updated, u[0])
	} else {
		wantFlags(t, "-FLAGS FlagUpdate", r.Updated[0].Flags, want)
	}

	r = storeFlags(t, s, a.ID, inbox.ID, nil, store.FlagsSet, []string{"only-this"})
	for _, uid := range u {
		wantFlags(t, fmt.Sprintf("u%d after FLAGS (set, all)", uid), flagsOf(uid), []string{"only-this"})
	}
	if len(r.Updated) != 3 {
		t.Errorf("FLAGS on all: %d updates, want 3", len(r.Updated))
	}
	storeFlags(t, s, a.ID, inbox.ID, set(u[1]), store.FlagsSet, nil)
	wantFlags(t, "u1 after FLAGS ()", flagsOf(u[1]), nil)
	wantFlags(t, "u0 untouched by FLAGS () on u1", flagsOf(u[0]), []string{"only-this"})

	// UIDs that do not exist are ignored.
	r = storeFlags(t, s, a.ID, inbox.ID, store.UIDSet{{Lo: u[2] + 1, Hi: u[2] + 50}}, store.FlagsAdd, []string{store.FlagSeen})
	if len(r.Updated) != 0 {
		t.Errorf("StoreFlags on missing UIDs updated %+v", r.Updated)
	}
	_, err := s.StoreFlags(t.Context(), a.ID, inbox.ID+1000, nil, store.FlagsAdd, []string{store.FlagSeen}, 0)
	wantErr(t, "StoreFlags in unknown mailbox", err, store.ErrNotFound)
}

func testFlagsCanonical(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "canon", 2)
	storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsAdd,
		[]string{`\seen`, `\ANSWERED`, `\fLaGgEd`, `\deleted`, `\DRAFT`, `\Seen`, "dup", "dup"})
	got := one(t, s, a.ID, inbox.ID, u[0]).Flags
	want := []string{store.FlagAnswered, store.FlagDeleted, store.FlagDraft, store.FlagFlagged, store.FlagSeen, "dup"}
	if !sameFlags(got, want) {
		t.Errorf("flags = %q, want canonical %q without duplicates", got, want)
	}
	// Removing with another case removes the system flag.
	storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsRemove, []string{`\SEEN`})
	if slices.Contains(one(t, s, a.ID, inbox.ID, u[0]).Flags, store.FlagSeen) {
		t.Errorf(`-FLAGS (\SEEN) left \Seen`)
	}
	// Counts and search see the canonical flag.
	storeFlags(t, s, a.ID, inbox.ID, set(u[1]), store.FlagsSet, []string{`\SEEN`})
	if mb := mbox(t, s, a.ID, "INBOX"); mb.Unseen != 1 {
		t.Errorf("Unseen = %d, want 1 after setting \\SEEN on one of two", mb.Unseen)
	}
	got2, err := s.Search(t.Context(), a.ID, inbox.ID, store.Criteria{WithFlags: []string{`\seen`}})
	noErr(t, "Search", err)
	wantUIDs(t, `Search \seen`, got2, []uint32{u[1]})
}

func testFlagsOrder(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	in := []string{"zulu", store.FlagSeen, "$Label1", store.FlagAnswered, "alpha", store.FlagDeleted}
	uid := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "order"}.Bytes(), in, time.Time{})
	got := one(t, s, a.ID, inbox.ID, uid).Flags
	if !flagsOrdered(got, in) {
		t.Errorf("Message.Flags = %q, want system flags first, then keywords, sorted: %q", got, canonFlags(in))
	}
	r := storeFlags(t, s, a.ID, inbox.ID, set(uid), store.FlagsAdd, []string{"mike", store.FlagFlagged})
	in = append(in, "mike", store.FlagFlagged)
	if len(r.Updated) != 1 || !flagsOrdered(r.Updated[0].Flags, in) {
		t.Errorf("FlagUpdate = %+v, want flags %q", r.Updated, canonFlags(in))
	}
	if got := one(t, s, a.ID, inbox.ID, uid).Flags; !flagsOrdered(got, in) {
		t.Errorf("Message.Flags = %q, want %q", got, canonFlags(in))
	}
}

func testFlagsInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	uid := appendMsg(t, s, a.ID, inbox.ID, Msg{Subject: "invalid"}.Bytes(), []string{"keep"}, time.Time{})
	ms := acctModSeq(t, s, a.ID)
	bad := []string{`\Recent`, `\recent`, `\Foo`, `\`, "", "has space", "a(b", "a)b", "a{b", `a"b`, "a%b", "a*b", `a\b`, "a]b", "tab\tkw", "nul\x00", "café"}
	for _, f := range bad {
		for _, op := range []store.FlagOp{store.FlagsSet, store.FlagsAdd, store.FlagsRemove} {
			_, err := s.StoreFlags(ctx, a.ID, inbox.ID, nil, op, []string{store.FlagSeen, f}, 0)
			wantErr(t, fmt.Sprintf("StoreFlags op %d with %q", op, f), err, store.ErrInvalidFlag)
		}
	}
	if m := one(t, s, a.ID, inbox.ID, uid); !sameFlags(m.Flags, []string{"keep"}) {
		t.Errorf("refused StoreFlags changed flags to %q", m.Flags)
	}
	if got := acctModSeq(t, s, a.ID); got != ms {
		t.Errorf("refused StoreFlags bumped ModSeq %d → %d", ms, got)
	}
	for _, f := range []string{`\Recent`, "two words", strings.Repeat("x", 10) + "("} {
		_, err := s.Append(ctx, a.ID, inbox.ID, Msg{Subject: "bad " + f}.Bytes(), []string{f}, time.Time{})
		wantErr(t, fmt.Sprintf("Append with %q", f), err, store.ErrInvalidFlag)
	}
	if n := mbox(t, s, a.ID, "INBOX").Messages; n != 1 {
		t.Errorf("refused appends stored messages: %d in INBOX", n)
	}
	// Keywords that look odd but are atoms are fine (RFC 9051 9, flag-keyword).
	for _, ok := range []string{"$MDNSent", "$Junk", "NonJunk", "a-b_c.d", "x+y", "~tilde", "#hash", "key!word"} {
		_, err := s.StoreFlags(ctx, a.ID, inbox.ID, set(uid), store.FlagsAdd, []string{ok}, 0)
		noErr(t, fmt.Sprintf("StoreFlags with valid keyword %q", ok), err)
	}
}

func testFlagsUnchangedSince(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "cs", 3)
	// Remember the modseq a client saw, then change u[1] behind its back.
	seen := acctModSeq(t, s, a.ID)
	storeFlags(t, s, a.ID, inbox.ID, set(u[1]), store.FlagsAdd, []string{"other-client"})
	changed := one(t, s, a.ID, inbox.ID, u[1])

	r, err := s.StoreFlags(ctx, a.ID, inbox.ID, nil, store.FlagsAdd, []string{store.FlagFlagged}, seen)
	noErr(t, "StoreFlags UNCHANGEDSINCE", err)
	wantUIDs(t, "Modified", r.Modified, []uint32{u[1]})
	var upd []uint32
	for _, up := range r.Updated {
		upd = append(upd, up.UID)
		if up.ModSeq <= changed.ModSeq {
			t.Errorf("update of %d ModSeq %d, not above %d", up.UID, up.ModSeq, changed.ModSeq)
		}
	}
	wantUIDs(t, "Updated", upd, []uint32{u[0], u[2]})
	after := one(t, s, a.ID, inbox.ID, u[1])
	if after.ModSeq != changed.ModSeq || !sameFlags(after.Flags, []string{"other-client"}) {
		t.Errorf("message that failed UNCHANGEDSINCE: modseq %d flags %q, want unchanged %d %q",
			after.ModSeq, after.Flags, changed.ModSeq, []string{"other-client"})
	}
	for _, uid := range []uint32{u[0], u[2]} {
		wantFlags(t, fmt.Sprintf("message %d", uid), one(t, s, a.ID, inbox.ID, uid).Flags, []string{store.FlagFlagged})
	}
	// UNCHANGEDSINCE equal to the message's modseq passes (modseq <= value).
	cur := one(t, s, a.ID, inbox.ID, u[1]).ModSeq
	r, err = s.StoreFlags(ctx, a.ID, inbox.ID, set(u[1]), store.FlagsAdd, []string{store.FlagSeen}, cur)
	noErr(t, "StoreFlags UNCHANGEDSINCE = modseq", err)
	if len(r.Modified) != 0 || len(r.Updated) != 1 {
		t.Errorf("UNCHANGEDSINCE equal to the modseq: Updated %+v Modified %v, want one update", r.Updated, r.Modified)
	}
	// All fail: nothing changes and the modseq stays.
	ms := acctModSeq(t, s, a.ID)
	r, err = s.StoreFlags(ctx, a.ID, inbox.ID, nil, store.FlagsSet, nil, 1)
	noErr(t, "StoreFlags UNCHANGEDSINCE 1", err)
	wantUIDs(t, "Modified (all)", r.Modified, u)
	if len(r.Updated) != 0 {
		t.Errorf("Updated = %+v, want none", r.Updated)
	}
	if got := acctModSeq(t, s, a.ID); got != ms {
		t.Errorf("StoreFlags that changed nothing bumped ModSeq %d → %d", ms, got)
	}
}

func testFlagsNoOp(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	u := appendN(t, s, a.ID, inbox.ID, "noop", 2)
	storeFlags(t, s, a.ID, inbox.ID, set(u[0]), store.FlagsAdd, []string{store.FlagSeen, "kw"})
	ms := acctModSeq(t, s, a.ID)
	m0 := one(t, s, a.ID, inbox.ID, u[0]).ModSeq
	for _, c := range []struct {
		op    store.FlagOp
		flags []string
	}{
		{store.FlagsAdd, []string{store.FlagSeen}},
		{store.FlagsAdd, []string{`\SEEN`, "kw"}},
		{store.FlagsRemove, []string{store.FlagDeleted, "absent"}},
		{store.FlagsSet, []string{"kw", store.FlagSeen}},
	} {
		r := storeFlags(t, s, a.ID, inbox.ID, set(u[0]), c.op, c.flags)
		if len(r.Updated) != 0 {
			t.Errorf("op %d %q on flags (\\Seen kw): Updated %+v, want none", c.op, c.flags, r.Updated)
		}
	}
	if got := acctModSeq(t, s, a.ID); got != ms {
		t.Errorf("StoreFlags that changed nothing bumped ModSeq %d → %d", ms, got)
	}
	if got := one(t, s, a.ID, inbox.ID, u[0]).ModSeq; got != m0 {
		t.Errorf("StoreFlags that changed nothing bumped the message ModSeq %d → %d", m0, got)
	}
	// Mixed: only the message that changes gets a new modseq.
	r := storeFlags(t, s, a.ID, inbox.ID, nil, store.FlagsAdd, []string{store.FlagSeen})
	if len(r.Updated) != 1 || r.Updated[0].UID != u[1] {
		t.Errorf("+FLAGS \\Seen on both: Updated %+v, want only %d", r.Updated, u[1])
	}
	if got := one(t, s, a.ID, inbox.ID, u[0]).ModSeq; got != m0 {
		t.Errorf("unchanged message ModSeq %d → %d", m0, got)
	}
	if got := acctModSeq(t, s, a.ID); got <= ms {
		t.Errorf("ModSeq %d → %d after one real change", ms, got)
	}
}

// rfcOrder is the order RFC 9051 2.3.2 lists the system flags in.
func rfcOrder(f string) int {
	return slices.Index([]string{store.FlagSeen, store.FlagAnswered, store.FlagFlagged, store.FlagDeleted, store.FlagDraft}, f)
}

// flagsOrdered reports whether got holds exactly the flags of want with system
// flags first, then keywords sorted. store.go says "system flags first, then
// keywords, sorted": the system flags may be sorted by name or in RFC order, but
// consistently.
func flagsOrdered(got, want []string) bool {
	if !sameFlags(got, want) {
		return false
	}
	i := 0
	for i < len(got) && strings.HasPrefix(got[i], `\`) {
		i++
	}
	sys, kw := got[:i], got[i:]
	if !slices.IsSorted(kw) {
		return false
	}
	return slices.IsSorted(sys) || slices.IsSortedFunc(sys, func(a, b string) int { return rfcOrder(a) - rfcOrder(b) })
}
