package testopen

import (
	"testing"

	"gannet/internal/store/storetest"
)

// TestReopen: a Location opened again sees what was written through the
// first store, and Open gives a fresh, empty store each time.
func TestReopen(t *testing.T) {
	t.Parallel()
	loc := New(t, FastPasswords)
	st := loc.Open(t)
	storetest.NewAccount(t, st, "alice@example.org", "pw")
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	again := loc.Open(t)
	if _, err := again.Authenticate(t.Context(), "alice@example.org", "pw"); err != nil {
		t.Fatalf("account after reopening: %v", err)
	}
	if as, err := Open(t).Accounts(t.Context()); err != nil || len(as) != 0 {
		t.Fatalf("a fresh store has accounts %v, %v", as, err)
	}
}
