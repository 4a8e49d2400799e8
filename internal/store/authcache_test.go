package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"gannet/internal/password"
)

// TestAuthCache: a login is cached; a new password hash (set by another
// process), Forget and the TTL each make the entry miss; failures are not
// cached.
func TestAuthCache(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := NewAuthCache(func() time.Time { return now })
	hash, _, err := HashPassword("pw", true)
	if err != nil {
		t.Fatal(err)
	}
	a := &Account{ID: 1, Address: "a@example.com", PasswordHash: hash}
	lookup := func(_ context.Context, user string) (*Account, error) {
		if user != a.Address {
			return nil, ErrNotFound
		}
		cp := *a
		return &cp, nil
	}
	ctx := context.Background()
	if _, err := c.Authenticate(ctx, lookup, a.Address, "bad", true); !errors.Is(err, ErrAuthFailed) || c.Hit(a, "bad") {
		t.Fatalf("bad password: %v, or cached", err)
	}
	if _, err := c.Authenticate(ctx, lookup, "nobody@example.com", "pw", true); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("unknown account: %v", err)
	}
	if _, err := c.Authenticate(ctx, lookup, a.Address, "pw", true); err != nil || !c.Hit(a, "pw") {
		t.Fatalf("good password: %v, or not cached", err)
	}
	// Another process sets a new password: the row read at the next login
	// has a new hash, and the old entry cannot be hit.
	b := *a
	b.PasswordHash, _ = password.TestParams().Hash("other")
	if c.Hit(&b, "pw") {
		t.Error("entry hit under a changed password hash")
	}
	c.Forget(a.Address)
	if c.Hit(a, "pw") {
		t.Error("entry hit after Forget")
	}
	c.Add(a, "pw")
	now = now.Add(time.Hour)
	if c.Hit(a, "pw") {
		t.Error("entry hit after its TTL")
	}
}
