package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

func aliasTests() []subtest {
	return []subtest{
		{"Resolve", testAliasResolve},
		{"CatchAllAndTags", testAliasCatchAllAndTags},
		{"AddListDelete", testAliasAddListDelete},
		{"Addresses", testAliasAddresses},
		{"Loop", testAliasLoop},
	}
}

// resolved returns the sorted local addresses and sorted remote addresses.
func resolved(t *testing.T, s store.Store, addr string) (local, remote []string) {
	t.Helper()
	r, err := s.Resolve(t.Context(), addr)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", addr, err)
	}
	for _, a := range r.Local {
		local = append(local, a.Address)
	}
	remote = slices.Clone(r.Remote)
	slices.Sort(local)
	slices.Sort(remote)
	return local, remote
}

func wantResolve(t *testing.T, s store.Store, addr string, wantLocal, wantRemote []string) {
	t.Helper()
	local, remote := resolved(t, s, addr)
	if !slices.Equal(local, wantLocal) || !slices.Equal(remote, wantRemote) {
		t.Errorf("Resolve(%q) = local %q remote %q, want local %q remote %q", addr, local, remote, wantLocal, wantRemote)
	}
}

func testAliasResolve(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := account(t, s, "alice@example.org")
	account(t, s, "bob@example.org")
	account(t, s, "carol@example.org")

	// An account resolves to itself, case-insensitively, with the full Account.
	r, err := s.Resolve(ctx, "Alice@Example.org")
	noErr(t, "Resolve account", err)
	if len(r.Local) != 1 || r.Local[0].ID != alice.ID || len(r.Remote) != 0 {
		t.Fatalf("Resolve(alice) = %+v, want just account %d", r, alice.ID)
	}

	noErr(t, "AddAlias team", s.AddAlias(ctx, "team@example.org", []string{"alice@example.org", "bob@example.org"}))
	noErr(t, "AddAlias all (alias to alias)", s.AddAlias(ctx, "all@example.org", []string{"team@example.org", "carol@example.org"}))
	noErr(t, "AddAlias dup", s.AddAlias(ctx, "dup@example.org", []string{"alice@example.org", "team@example.org", "ALICE@example.org"}))
	noErr(t, "AddAlias fwd (remote)", s.AddAlias(ctx, "fwd@example.org", []string{"someone@remote.example", "alice@example.org"}))
	noErr(t, "AddAlias ext (only remote)", s.AddAlias(ctx, "ext@example.org", []string{"x@remote.example", "y@other.example"}))

	ab := []string{"alice@example.org", "bob@example.org"}
	wantResolve(t, s, "team@example.org", ab, nil)
	wantResolve(t, s, "TEAM@EXAMPLE.ORG", ab, nil)
	wantResolve(t, s, "all@example.org", []string{"alice@example.org", "bob@example.org", "carol@example.org"}, nil)
	wantResolve(t, s, "dup@example.org", ab, nil) // deduplicated
	wantResolve(t, s, "fwd@example.org", []string{"alice@example.org"}, []string{"someone@remote.example"})
	wantResolve(t, s, "ext@example.org", nil, []string{"x@remote.example", "y@other.example"})

	for _, unknown := range []string{"nobody@example.org", "alice@elsewhere.example", "team@elsewhere.example", "", "alice"} {
		_, err := s.Resolve(ctx, unknown)
		wantErr(t, "Resolve("+unknown+")", err, store.ErrNotFound)
	}
}

func testAliasCatchAllAndTags(t *testing.T, s store.Store) {
	ctx := t.Context()
	account(t, s, "alice@example.org")
	account(t, s, "bob@example.org")
	account(t, s, "carol@example.net")
	noErr(t, "AddAlias sales", s.AddAlias(ctx, "sales@example.org", []string{"bob@example.org"}))

	// user+tag@domain → user@domain, before any catch-all.
	wantResolve(t, s, "alice+newsletters@example.org", []string{"alice@example.org"}, nil)
	wantResolve(t, s, "Alice+Tag@Example.org", []string{"alice@example.org"}, nil)
	wantResolve(t, s, "sales+q3@example.org", []string{"bob@example.org"}, nil)
	_, err := s.Resolve(ctx, "nobody+tag@example.org")
	wantErr(t, "Resolve nobody+tag without catch-all", err, store.ErrNotFound)
	_, err = s.Resolve(ctx, "random@example.org")
	wantErr(t, "Resolve random without catch-all", err, store.ErrNotFound)

	noErr(t, "AddAlias catch-all", s.AddAlias(ctx, "@example.org", []string{"bob@example.org"}))
	wantResolve(t, s, "random@example.org", []string{"bob@example.org"}, nil)
	wantResolve(t, s, "nobody+tag@example.org", []string{"bob@example.org"}, nil)
	// Exact accounts, aliases and tags win over the catch-all.
	wantResolve(t, s, "alice@example.org", []string{"alice@example.org"}, nil)
	wantResolve(t, s, "alice+x@example.org", []string{"alice@example.org"}, nil)
	// The catch-all is per domain.
	_, err = s.Resolve(ctx, "random@example.net")
	wantErr(t, "Resolve random in a domain without catch-all", err, store.ErrNotFound)
	wantResolve(t, s, "carol@example.net", []string{"carol@example.net"}, nil)
}

func testAliasAddListDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	account(t, s, "alice@example.org")
	account(t, s, "bob@example.org")
	if as, err := s.Aliases(ctx); err != nil || len(as) != 0 {
		t.Fatalf("Aliases on a fresh store = %v, %v", as, err)
	}
	account(t, s, "carol@example.org")
	noErr(t, "AddAlias", s.AddAlias(ctx, "Team@Example.org", []string{"alice@example.org", "bob@example.org"}))
	noErr(t, "AddAlias", s.AddAlias(ctx, "@example.org", []string{"alice@example.org"}))
	// Adding to an existing alias either is refused (ErrExists, targets unchanged)
	// or adds the new targets; store.go leaves the choice to the backend.
	wantTeam := []string{"alice@example.org", "bob@example.org"}
	if err := s.AddAlias(ctx, "team@example.org", []string{"carol@example.org", "bob@example.org"}); err == nil {
		wantTeam = []string{"alice@example.org", "bob@example.org", "carol@example.org"}
	} else if !errors.Is(err, store.ErrExists) {
		t.Errorf("AddAlias to an existing alias: %v, want nil (targets added) or ErrExists", err)
	}
	if err := s.AddAlias(ctx, "empty@example.org", nil); err == nil {
		t.Errorf("AddAlias with no targets succeeded")
	}
	as, err := s.Aliases(ctx)
	noErr(t, "Aliases", err)
	got := map[string][]string{}
	for _, a := range as {
		ts := slices.Clone(a.Targets)
		slices.Sort(ts)
		got[a.Address] = ts
	}
	if len(got) != 2 || !slices.Equal(got["team@example.org"], wantTeam) ||
		!slices.Equal(got["@example.org"], []string{"alice@example.org"}) {
		t.Errorf("Aliases = %q, want team@example.org (lower-cased) → %q and @example.org → alice", got, wantTeam)
	}
	wantResolve(t, s, "team@example.org", wantTeam, nil)

	noErr(t, "DeleteAlias", s.DeleteAlias(ctx, "TEAM@example.org"))
	// Now team@ falls through to the catch-all.
	wantResolve(t, s, "team@example.org", []string{"alice@example.org"}, nil)
	noErr(t, "DeleteAlias catch-all", s.DeleteAlias(ctx, "@example.org"))
	_, err = s.Resolve(ctx, "team@example.org")
	wantErr(t, "Resolve deleted alias", err, store.ErrNotFound)
	wantErr(t, "DeleteAlias unknown", s.DeleteAlias(ctx, "team@example.org"), store.ErrNotFound)
	if as, err := s.Aliases(ctx); err != nil || len(as) != 0 {
		t.Errorf("Aliases after deleting all = %v, %v", as, err)
	}
}

func testAliasAddresses(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := account(t, s, "alice@example.org")
	bob := account(t, s, "bob@example.org")
	noErr(t, "AddAlias", s.AddAlias(ctx, "team@example.org", []string{"alice@example.org", "bob@example.org"}))
	noErr(t, "AddAlias", s.AddAlias(ctx, "postmaster@example.org", []string{"alice@example.org"}))
	noErr(t, "AddAlias", s.AddAlias(ctx, "sales@example.org", []string{"bob@example.org"}))

	addrs, err := s.Addresses(ctx, alice.ID)
	noErr(t, "Addresses(alice)", err)
	for _, want := range []string{"alice@example.org", "team@example.org", "postmaster@example.org"} {
		if !slices.Contains(addrs, want) {
			t.Errorf("Addresses(alice) = %q, missing %q", addrs, want)
		}
	}
	if slices.Contains(addrs, "sales@example.org") || slices.Contains(addrs, "bob@example.org") {
		t.Errorf("Addresses(alice) = %q, contains bob's addresses", addrs)
	}
	addrs, err = s.Addresses(ctx, bob.ID)
	noErr(t, "Addresses(bob)", err)
	for _, want := range []string{"bob@example.org", "team@example.org", "sales@example.org"} {
		if !slices.Contains(addrs, want) {
			t.Errorf("Addresses(bob) = %q, missing %q", addrs, want)
		}
	}
	if slices.Contains(addrs, "postmaster@example.org") {
		t.Errorf("Addresses(bob) = %q, contains alice's postmaster@", addrs)
	}
}

// testAliasLoop: aliases pointing at each other must not hang Resolve; either
// AddAlias refuses the loop or Resolve terminates.
func testAliasLoop(t *testing.T, s store.Store) {
	ctx := t.Context()
	account(t, s, "alice@example.org")
	err1 := s.AddAlias(ctx, "a@example.org", []string{"b@example.org", "alice@example.org"})
	err2 := s.AddAlias(ctx, "b@example.org", []string{"a@example.org"})
	if err1 != nil || err2 != nil {
		return // refusing a loop is fine
	}
	done := make(chan struct{})
	var local []string
	go func() {
		defer close(done)
		r, err := s.Resolve(ctx, "b@example.org")
		if err == nil {
			for _, a := range r.Local {
				local = append(local, a.Address)
			}
		}
	}()
	select {
	case <-done:
		if len(local) > 1 {
			t.Errorf("Resolve through a loop = %q, want alice at most once", local)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Resolve through an alias loop did not return")
	}
}
