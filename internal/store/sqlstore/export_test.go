package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"gannet/internal/store"
	"gannet/internal/store/dump"
)

// TestSnapshotMessages: Messages pages through a mailbox (page boundaries
// included) and, given since, returns exactly the messages whose MODSEQ is
// above it, none at it; the snapshot does not see writes after it began.
func TestSnapshotMessages(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	if err := s.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "a@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		raw := fmt.Appendf(nil, "Subject: %d\r\n\r\nbody %d\r\n", i, i)
		if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := s.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// UIDs 2 and 5 get one new MODSEQ, then 6 another.
	res, err := s.StoreFlags(ctx, a.ID, inbox.ID, store.UIDSet{{Lo: 2, Hi: 2}, {Lo: 5, Hi: 5}}, store.FlagsAdd, []string{"\\Seen"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	since := int64(res.Updated[0].ModSeq)
	if _, err := s.StoreFlags(ctx, a.ID, inbox.ID, store.UIDSet{{Lo: 6, Hi: 6}}, store.FlagsAdd, []string{"\\Seen"}, 0); err != nil {
		t.Fatal(err)
	}
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	sn.page = 2
	// Written after the snapshot began: not in it.
	if _, err := s.Deliver(ctx, store.Delivery{Raw: []byte("Subject: late\r\n\r\n"), Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
		t.Fatal(err)
	}
	uids := func(since int64) []int64 {
		var out []int64
		err := sn.Messages(ctx, inbox.ID, since, func(p []dump.Message) error {
			if len(p) > 2 {
				t.Errorf("page of %d", len(p))
			}
			for _, m := range p {
				out = append(out, m.UID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := fmt.Sprint(uids(0)); got != "[1 2 3 4 5 6 7]" {
		t.Errorf("all messages: %s", got)
	}
	if got := fmt.Sprint(uids(since - 1)); got != "[2 5 6]" {
		t.Errorf("since %d: %s, want [2 5 6]", since-1, got)
	}
	if got := fmt.Sprint(uids(since)); got != "[6]" {
		t.Errorf("since %d: %s, want [6]", since, got)
	}
}

// TestOpenNoMigrate: with NoMigrate a database not at this build's schema
// (here: none yet) is refused, not migrated; one at it opens.
func TestOpenNoMigrate(t *testing.T) {
	dir := t.TempDir()
	if s, err := Open(t.Context(), dir, Options{NoMigrate: true}); err == nil || !strings.Contains(err.Error(), "schema version 0") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("NoMigrate on a new directory: %v", err)
	}
	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), dir, Options{NoMigrate: true})
	if err != nil {
		t.Fatalf("NoMigrate at this build's schema: %v", err)
	}
	s.Close()
}
