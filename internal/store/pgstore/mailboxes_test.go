package pgstore

import (
	"slices"
	"testing"
)

// TestRenameSubscriptionCollision: subscriptions follow a rename, and one
// already held under a new name does not make the rename fail (PostgreSQL
// has no UPDATE OR REPLACE: the rename deletes the duplicate first).
func TestRenameSubscriptionCollision(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := t.Context()
	id := testAccounts(t, s, 1)[0]
	for _, n := range []string{"a/b", "keep"} {
		if _, err := s.CreateMailbox(ctx, id, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Subscribed: a, a/b, and x/b (no such mailbox yet: RFC 9051 6.3.7).
	for _, n := range []string{"a", "a/b", "x/b", "keep"} {
		if err := s.SubscribeMailbox(ctx, id, n, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RenameMailbox(ctx, id, "a", "x"); err != nil {
		t.Fatalf("RenameMailbox a → x: %v", err)
	}
	subs, err := s.Subscriptions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"keep", "x", "x/b"}; !slices.Equal(subs, want) {
		t.Errorf("subscriptions after rename = %q, want %q", subs, want)
	}
	mbs, err := s.Mailboxes(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range mbs {
		names = append(names, m.Name)
		if want := slices.Contains(subs, m.Name); m.Subscribed != want {
			t.Errorf("mailbox %s Subscribed = %v, want %v", m.Name, m.Subscribed, want)
		}
	}
	if want := []string{"INBOX", "keep", "x", "x/b"}; !slices.Equal(names, want) {
		t.Errorf("mailboxes after rename = %q, want %q", names, want)
	}
}
