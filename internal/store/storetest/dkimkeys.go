package storetest

import (
	"bytes"
	"testing"
	"time"

	"gannet/internal/store"
)

func dkimKeyTests() []subtest {
	return []subtest{{"AddList", testDKIMKeys}}
}

func testDKIMKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	noErr(t, "AddDomain", s.AddDomain(ctx, "example.org"))
	if ks, err := s.DKIMKeys(ctx, "example.org"); err != nil || len(ks) != 0 {
		t.Fatalf("DKIMKeys of a new domain = %v, %v", ks, err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	ed := store.DKIMKey{Domain: "Example.ORG", Selector: "gannet-ed25519-202603", Algorithm: "ed25519", PEM: []byte("-----ed-----"), Created: t0}
	rsa := store.DKIMKey{Domain: "example.org", Selector: "gannet-rsa-202603", Algorithm: "rsa", PEM: []byte("-----rsa-----"), Created: t0.Add(time.Second)}
	noErr(t, "AddDKIMKey ed25519", s.AddDKIMKey(ctx, ed))
	noErr(t, "AddDKIMKey rsa", s.AddDKIMKey(ctx, rsa))
	wantErr(t, "AddDKIMKey duplicate selector", s.AddDKIMKey(ctx, ed), store.ErrExists)
	wantErr(t, "AddDKIMKey unknown domain", s.AddDKIMKey(ctx, store.DKIMKey{Domain: "nope.org", Selector: "s", Algorithm: "rsa", PEM: []byte("x")}), store.ErrNotFound)
	ks, err := s.DKIMKeys(ctx, "EXAMPLE.org")
	noErr(t, "DKIMKeys", err)
	if len(ks) != 2 || ks[0].Selector != ed.Selector || ks[1].Selector != rsa.Selector ||
		!bytes.Equal(ks[0].PEM, ed.PEM) || ks[0].Domain != "example.org" || ks[1].Algorithm != "rsa" || !ks[0].Created.Equal(t0) {
		t.Fatalf("DKIMKeys = %+v", ks)
	}
	// Keys go with their domain.
	noErr(t, "DeleteDomain", s.DeleteDomain(ctx, "example.org"))
	noErr(t, "AddDomain again", s.AddDomain(ctx, "example.org"))
	if ks, err := s.DKIMKeys(ctx, "example.org"); err != nil || len(ks) != 0 {
		t.Fatalf("DKIMKeys after the domain was deleted and added again = %d keys, %v", len(ks), err)
	}
}
