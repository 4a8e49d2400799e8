package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

func domainTests() []subtest {
	return []subtest{
		{"AddListDelete", testDomainAddListDelete},
		{"CaseInsensitive", testDomainCaseInsensitive},
		{"DeleteWithAccounts", testDomainDeleteWithAccounts},
	}
}

func domainNames(t *testing.T, s store.Store) []string {
	t.Helper()
	ds, err := s.Domains(t.Context())
	noErr(t, "Domains", err)
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	return names
}

func testDomainAddListDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got := domainNames(t, s); len(got) != 0 {
		t.Fatalf("fresh store has domains %q", got)
	}
	before := time.Now().Add(-time.Minute)
	noErr(t, "AddDomain example.org", s.AddDomain(ctx, "example.org"))
	noErr(t, "AddDomain example.com", s.AddDomain(ctx, "example.com"))
	if got, want := domainNames(t, s), []string{"example.com", "example.org"}; !slices.Equal(got, want) {
		t.Fatalf("Domains = %q, want %q", got, want)
	}
	ds, _ := s.Domains(ctx)
	for _, d := range ds {
		if d.Created.Before(before) || d.Created.After(time.Now().Add(time.Minute)) {
			t.Errorf("domain %s Created = %v, want about now", d.Name, d.Created)
		}
	}
	wantErr(t, "AddDomain duplicate", s.AddDomain(ctx, "example.org"), store.ErrExists)
	if err := s.AddDomain(ctx, ""); err == nil {
		t.Errorf("AddDomain(\"\") succeeded")
	}
	if err := s.AddDomain(ctx, "bad domain"); err == nil {
		t.Errorf("AddDomain(\"bad domain\") succeeded")
	}

	noErr(t, "DeleteDomain example.com", s.DeleteDomain(ctx, "example.com"))
	if got, want := domainNames(t, s), []string{"example.org"}; !slices.Equal(got, want) {
		t.Fatalf("after delete Domains = %q, want %q", got, want)
	}
	ok, err := s.IsLocalDomain(ctx, "example.com")
	noErr(t, "IsLocalDomain", err)
	if ok {
		t.Errorf("IsLocalDomain(deleted example.com) = true")
	}
	wantErr(t, "DeleteDomain unknown", s.DeleteDomain(ctx, "example.com"), store.ErrNotFound)
	// Deleted domains can be added again.
	noErr(t, "AddDomain again", s.AddDomain(ctx, "example.com"))
}

func testDomainCaseInsensitive(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddDomain", s.AddDomain(ctx, "Example.ORG"))
	if got, want := domainNames(t, s), []string{"example.org"}; !slices.Equal(got, want) {
		t.Errorf("Domains = %q, want lower-case %q", got, want)
	}
	for _, name := range []string{"example.org", "EXAMPLE.ORG", "eXample.Org"} {
		ok, err := s.IsLocalDomain(ctx, name)
		noErr(t, "IsLocalDomain", err)
		if !ok {
			t.Errorf("IsLocalDomain(%q) = false, want true", name)
		}
	}
	for _, name := range []string{"example.com", "sub.example.org", "org", "xample.org"} {
		ok, err := s.IsLocalDomain(ctx, name)
		noErr(t, "IsLocalDomain", err)
		if ok {
			t.Errorf("IsLocalDomain(%q) = true, want false", name)
		}
	}
	wantErr(t, "AddDomain differing only in case", s.AddDomain(ctx, "EXAMPLE.org"), store.ErrExists)
}

func testDomainDeleteWithAccounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	account(t, s, "alice@example.org")
	err := s.DeleteDomain(ctx, "example.org")
	wantErr(t, "DeleteDomain with an account", err, store.ErrNotPermitted)
	ok, _ := s.IsLocalDomain(ctx, "example.org")
	if !ok {
		t.Fatalf("refused DeleteDomain removed the domain anyway")
	}
	if _, err := s.Account(ctx, "alice@example.org"); err != nil {
		t.Fatalf("refused DeleteDomain removed the account: %v", err)
	}
	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, "alice@example.org"))
	if err := s.DeleteDomain(ctx, "example.org"); err != nil {
		if errors.Is(err, store.ErrNotPermitted) {
			t.Fatalf("DeleteDomain still refused after its last account was deleted: %v", err)
		}
		t.Fatalf("DeleteDomain: %v", err)
	}
	if got := domainNames(t, s); len(got) != 0 {
		t.Errorf("Domains after delete = %q", got)
	}
}
