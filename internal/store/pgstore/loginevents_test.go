package pgstore

import (
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
)

// TestLoginEventsAcrossNodes: events one node adds reach another node's
// LoginEvents, keys intact and in order, never the adding node's own; the
// cursor moves on.
func TestLoginEventsAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	ctx := t.Context()
	start, _, err := b.LoginEvents(ctx, -1)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	key := string([]byte{0, 1, 2, 0xff, 'x', 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0})
	sent := []store.LoginEvent{
		{Prefix: "192.0.2.7/32", Accounts: []string{key}, At: at},
		{Prefix: "2001:db8::/64", At: at.Add(time.Millisecond)},
		{Prefix: "192.0.2.7/32", Accounts: []string{key, "another key here"}, Success: true, At: at.Add(2 * time.Millisecond)},
	}
	if err := a.AddLoginEvents(ctx, sent); err != nil {
		t.Fatal(err)
	}
	next, got, err := b.LoginEvents(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sent) {
		t.Fatalf("node b got %d events, want %d: %+v", len(got), len(sent), got)
	}
	for i := range sent {
		if got[i].Prefix != sent[i].Prefix || got[i].Success != sent[i].Success || !got[i].At.Equal(sent[i].At) ||
			!slices.Equal(got[i].Accounts, sent[i].Accounts) {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], sent[i])
		}
	}
	if _, own, err := a.LoginEvents(ctx, start); err != nil || len(own) != 0 {
		t.Errorf("node a read back its own events: %+v, %v", own, err)
	}
	if n2, again, err := b.LoginEvents(ctx, next); err != nil || len(again) != 0 || n2 != next {
		t.Errorf("from the returned cursor: %d events, cursor %d (was %d), %v", len(again), n2, next, err)
	}
}
