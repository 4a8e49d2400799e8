package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"gannet/internal/store"
)

// TestDirectoryCacheOtherProcess: a second Store on the same database stands
// for the `gannet` admin commands run beside a server. What they add or remove
// must be seen by the server's RCPT checks within the caches' TTL.
func TestDirectoryCacheOtherProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	admin, err := Open(ctx, dir, Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	// Negative answers are cached too.
	if ok, err := srv.IsLocalDomain(ctx, "late.test"); err != nil || ok {
		t.Fatalf("IsLocalDomain before add = %v, %v", ok, err)
	}
	if _, err := srv.Resolve(ctx, "x@late.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Resolve before add: %v", err)
	}
	if err := admin.AddDomain(ctx, "late.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.AddAccount(ctx, "x@late.test", "pw"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(max(store.DomainTTL, store.ResolveTTL) + 2*time.Second)
	for {
		ok, err := srv.IsLocalDomain(ctx, "late.test")
		if err != nil {
			t.Fatal(err)
		}
		res, rerr := srv.Resolve(ctx, "x@late.test")
		if ok && rerr == nil && len(res.Local) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("other process's domain/account not seen after the TTL: local=%v resolve err=%v", ok, rerr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Removal is seen too.
	if err := admin.DeleteAccount(ctx, "x@late.test"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(store.ResolveTTL + 2*time.Second)
	for {
		if _, err := srv.Resolve(ctx, "x@late.test"); errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("deleted account still resolves after the TTL")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestResolveCacheSameStore: changes through the same Store are seen at once,
// and a cached answer carries the current usage of a quota-limited account.
func TestResolveCacheSameStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openTest(t)
	if err := s.AddDomain(ctx, "gannet.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(ctx, "a@gannet.test"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Resolve before add: %v", err)
	}
	a, err := s.AddAccount(ctx, "a@gannet.test", "pw")
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Resolve(ctx, "a@gannet.test")
	if err != nil || len(res.Local) != 1 {
		t.Fatalf("Resolve right after add = %+v, %v", res, err)
	}
	if err := s.AddAlias(ctx, "team@gannet.test", []string{"a@gannet.test"}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Resolve(ctx, "team@gannet.test"); err != nil || len(res.Local) != 1 || res.Local[0].ID != a.ID {
		t.Fatalf("alias right after add = %+v, %v", res, err)
	}

	if err := s.SetQuota(ctx, "a@gannet.test", 1<<20, 0); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Resolve(ctx, "a@gannet.test"); err != nil || res.Local[0].QuotaBytes != 1<<20 {
		t.Fatalf("quota not seen right after SetQuota: %+v, %v", res, err)
	}
	msg := testMessage("usage")
	if _, err := s.Deliver(ctx, store.Delivery{Raw: msg, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
		t.Fatal(err)
	}
	res, err = s.Resolve(ctx, "a@gannet.test") // from the cache: usage read again
	if err != nil || res.Local[0].UsedBytes != int64(len(msg)) || res.Local[0].UsedMessages != 1 {
		t.Fatalf("cached resolution has stale usage: %+v, %v", res, err)
	}
	// A caller changing its copy does not change the cache.
	res.Local[0].ID = -1
	if res, _ := s.Resolve(ctx, "a@gannet.test"); res.Local[0].ID != a.ID {
		t.Fatal("cache shares memory with callers")
	}
}
