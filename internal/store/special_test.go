package store_test

import (
	"context"
	"errors"
	"testing"

	"gannet/internal/store"
	"gannet/internal/store/sqlstore"
)

// TestSpecialMailbox on a real SQLite store: the marked mailbox is found
// under any name, a missing one is created (by SpecialMailbox only), and an
// unmarked mailbox with the default name is taken rather than refused.
func TestSpecialMailbox(t *testing.T) {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, t.TempDir(), sqlstore.Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "a@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RenameMailbox(ctx, a.ID, "Junk", "Spam"); err != nil {
		t.Fatal(err)
	}
	if m, err := store.SpecialMailbox(ctx, s, a.ID, store.SpecialJunk); err != nil || m.Name != "Spam" {
		t.Fatalf("renamed Junk: %+v, %v", m, err)
	}

	if err := s.DeleteMailbox(ctx, a.ID, "Archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.FindSpecialMailbox(ctx, s, a.ID, store.SpecialArchive); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("FindSpecialMailbox of a deleted Archive: %v", err)
	}
	m, err := store.SpecialMailbox(ctx, s, a.ID, store.SpecialArchive)
	if err != nil || m.Name != "Archive" || m.SpecialUse != store.SpecialArchive {
		t.Fatalf("SpecialMailbox did not create Archive: %+v, %v", m, err)
	}
	again, err := store.SpecialMailbox(ctx, s, a.ID, store.SpecialArchive)
	if err != nil || again.ID != m.ID {
		t.Fatalf("second call: %+v, %v; want mailbox %d", again, err, m.ID)
	}

	if err := s.DeleteMailbox(ctx, a.ID, "Trash"); err != nil {
		t.Fatal(err)
	}
	plain, err := s.CreateMailbox(ctx, a.ID, "Trash", "")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := store.SpecialMailbox(ctx, s, a.ID, store.SpecialTrash); err != nil || m.ID != plain.ID {
		t.Fatalf("unmarked Trash: %+v, %v; want mailbox %d", m, err, plain.ID)
	}
	if _, err := store.SpecialMailbox(ctx, s, a.ID, `\Nonsense`); !errors.Is(err, store.ErrInvalidName) {
		t.Fatalf("unknown use: %v", err)
	}
}
