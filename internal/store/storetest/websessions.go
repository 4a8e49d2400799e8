package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"gannet/internal/store"
)

// webSessionTests: store.WebSessions, the webmail session table. Sessions
// name accounts by id only (no account need exist), so these tests run on a
// backend whose account methods are not written yet.
func webSessionTests() []subtest {
	return []subtest{
		{"RoundTrip", testWebSessionRoundTrip},
		{"Touch", testWebSessionTouch},
		{"Delete", testWebSessionDelete},
		{"PerAccountBound", testWebSessionPerAccount},
		{"TotalBound", testWebSessionTotal},
		{"Expire", testWebSessionExpire},
	}
}

// wsTime is a whole second: the store keeps unix seconds.
var wsTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func newWebSession(accountID int64, name string, created time.Time) store.WebSession {
	return store.WebSession{
		TokenHash:  sha256.Sum256([]byte("token " + name)),
		AccountID:  accountID,
		CSRF:       "csrf-" + name,
		Credential: sha256.Sum256([]byte("credential " + name)),
		Created:    created,
		LastSeen:   created,
	}
}

func createWS(t *testing.T, s store.Store, ws store.WebSession, perAccount int) {
	t.Helper()
	if err := s.CreateWebSession(context.Background(), ws, perAccount); err != nil {
		t.Fatalf("CreateWebSession(%d, %s): %v", ws.AccountID, ws.CSRF, err)
	}
}

// wsExists reports whether the session is in the store.
func wsExists(t *testing.T, s store.Store, ws store.WebSession) bool {
	t.Helper()
	_, err := s.WebSession(context.Background(), ws.TokenHash)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("WebSession(%s): %v", ws.CSRF, err)
	}
	return err == nil
}

func testWebSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	ws := newWebSession(42, "a", wsTime)
	ws.LastSeen = wsTime.Add(time.Minute)
	createWS(t, s, ws, 0)
	got, err := s.WebSession(ctx, ws.TokenHash)
	if err != nil {
		t.Fatalf("WebSession: %v", err)
	}
	if got.TokenHash != ws.TokenHash || got.AccountID != 42 || got.CSRF != ws.CSRF || got.Credential != ws.Credential ||
		!got.Created.Equal(ws.Created) || !got.LastSeen.Equal(ws.LastSeen) {
		t.Fatalf("WebSession = %+v, want %+v", got, ws)
	}
	wantErr(t, "CreateWebSession of a taken hash", s.CreateWebSession(ctx, ws, 0), store.ErrExists)
	_, err = s.WebSession(ctx, sha256.Sum256([]byte("never")))
	wantErr(t, "WebSession of an unknown hash", err, store.ErrNotFound)
}

func testWebSessionTouch(t *testing.T, s store.Store) {
	ctx := context.Background()
	ws := newWebSession(1, "a", wsTime)
	createWS(t, s, ws, 0)
	later := wsTime.Add(90 * time.Second)
	noErr(t, "TouchWebSession", s.TouchWebSession(ctx, ws.TokenHash, later))
	// Never back: a node with a late clock, or a late write, keeps the latest.
	noErr(t, "TouchWebSession back", s.TouchWebSession(ctx, ws.TokenHash, wsTime.Add(time.Second)))
	got, err := s.WebSession(ctx, ws.TokenHash)
	if err != nil {
		t.Fatalf("WebSession: %v", err)
	}
	if !got.LastSeen.Equal(later) || !got.Created.Equal(wsTime) {
		t.Fatalf("after touches: created %v last seen %v, want %v and %v", got.Created, got.LastSeen, wsTime, later)
	}
	wantErr(t, "TouchWebSession of an unknown hash",
		s.TouchWebSession(ctx, sha256.Sum256([]byte("never")), later), store.ErrNotFound)
}

func testWebSessionDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	a1, a2 := newWebSession(1, "a1", wsTime), newWebSession(1, "a2", wsTime)
	b := newWebSession(2, "b", wsTime)
	for _, ws := range []store.WebSession{a1, a2, b} {
		createWS(t, s, ws, 0)
	}
	ok, err := s.DeleteWebSession(ctx, a1.TokenHash)
	if err != nil || !ok {
		t.Fatalf("DeleteWebSession = %v, %v; want true", ok, err)
	}
	if wsExists(t, s, a1) {
		t.Fatal("deleted session still found")
	}
	if ok, err := s.DeleteWebSession(ctx, a1.TokenHash); err != nil || ok {
		t.Fatalf("second DeleteWebSession = %v, %v; want false", ok, err)
	}
	createWS(t, s, a1, 0)
	n, err := s.DeleteAccountWebSessions(ctx, 1)
	if err != nil || n != 2 {
		t.Fatalf("DeleteAccountWebSessions = %d, %v; want 2", n, err)
	}
	if wsExists(t, s, a1) || wsExists(t, s, a2) {
		t.Fatal("account's sessions still found")
	}
	if !wsExists(t, s, b) {
		t.Fatal("another account's session deleted")
	}
	if n, err := s.DeleteAccountWebSessions(ctx, 1); err != nil || n != 0 {
		t.Fatalf("second DeleteAccountWebSessions = %d, %v; want 0", n, err)
	}
}

// testWebSessionPerAccount: an account keeps at most PerAccount sessions,
// the oldest going first; other accounts are not touched.
func testWebSessionPerAccount(t *testing.T, s store.Store) {
	lim := 3
	other := newWebSession(9, "other", wsTime.Add(-time.Hour))
	createWS(t, s, other, lim)
	var mine []store.WebSession
	for i := range 5 {
		ws := newWebSession(1, fmt.Sprintf("s%d", i), wsTime.Add(time.Duration(i)*time.Minute))
		createWS(t, s, ws, lim)
		mine = append(mine, ws)
	}
	for i, ws := range mine {
		if want := i >= 2; wsExists(t, s, ws) != want {
			t.Errorf("session %d (of 5, bound 3) present = %v, want %v", i, !want, want)
		}
	}
	if !wsExists(t, s, other) {
		t.Error("another account's session deleted by the per-account bound")
	}
}

// testWebSessionTotal: ExpireWebSessions keeps at most maxTotal sessions,
// the least recently seen going first.
func testWebSessionTotal(t *testing.T, s store.Store) {
	var all []store.WebSession
	for i := range 4 {
		ws := newWebSession(int64(i+1), fmt.Sprintf("s%d", i), wsTime)
		ws.LastSeen = wsTime.Add(time.Duration(10-i) * time.Minute) // s3 is the least recently seen
		createWS(t, s, ws, 0)
		all = append(all, ws)
	}
	long := wsTime.Add(-365 * 24 * time.Hour)
	n, err := s.ExpireWebSessions(context.Background(), long, long, 2)
	if err != nil || n != 2 {
		t.Fatalf("ExpireWebSessions(max 2 of 4) = %d, %v; want 2", n, err)
	}
	for i, want := range []bool{true, true, false, false} {
		if wsExists(t, s, all[i]) != want {
			t.Errorf("session s%d present = %v, want %v", i, !want, want)
		}
	}
	if n, err := s.ExpireWebSessions(context.Background(), long, long, 2); err != nil || n != 0 {
		t.Fatalf("second ExpireWebSessions = %d, %v; want 0", n, err)
	}
}

func testWebSessionExpire(t *testing.T, s store.Store) {
	ctx := context.Background()
	idle := newWebSession(1, "idle", wsTime)                    // created now, not seen since
	old := newWebSession(2, "old", wsTime.Add(-9*24*time.Hour)) // seen now, created long ago
	old.LastSeen = wsTime.Add(time.Hour)
	live := newWebSession(3, "live", wsTime.Add(-time.Hour))
	live.LastSeen = wsTime.Add(time.Hour)
	for _, ws := range []store.WebSession{idle, old, live} {
		createWS(t, s, ws, 0)
	}
	n, err := s.ExpireWebSessions(ctx, wsTime.Add(time.Minute), wsTime.Add(-7*24*time.Hour), 0)
	if err != nil || n != 2 {
		t.Fatalf("ExpireWebSessions = %d, %v; want 2", n, err)
	}
	if wsExists(t, s, idle) || wsExists(t, s, old) || !wsExists(t, s, live) {
		t.Fatalf("after expiry: idle %v old %v live %v; want false false true",
			wsExists(t, s, idle), wsExists(t, s, old), wsExists(t, s, live))
	}
}
