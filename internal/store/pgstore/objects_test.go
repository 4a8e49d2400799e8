package pgstore

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/s3blob"
	"gannet/internal/store/s3blob/s3test"
	"gannet/internal/store/storetest"
)

// openObjects opens a Store on a fresh database whose bodies go to a fresh
// bucket of gw.
func openObjects(t testing.TB, gw *s3test.Server) (*Store, *s3blob.Client) {
	t.Helper()
	c := gw.NewBucket(t, "gannet/bodies")
	s, err := Open(t.Context(), pg.NewDatabase(t), Options{FastPasswords: true, Objects: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

// TestContractObjects runs the whole store contract with bodies in an
// object store.
func TestContractObjects(t *testing.T) {
	gw := s3test.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openObjects(t, gw)
		return s
	})
}

// objectKeysIn lists the keys under c's prefix.
func objectKeysIn(t *testing.T, c *s3blob.Client) []string {
	t.Helper()
	var keys []string
	if err := c.Walk(t.Context(), func(k string, _ time.Time) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestObjectsLifecycle follows a multi-chunk body through the object
// store: uploaded before the commit, no chunk in the database, read whole
// and by range, searched, a second upload of the same content dropped, and
// the objects deleted by GC once no message references them.
func TestObjectsLifecycle(t *testing.T) {
	t.Parallel()
	gw := s3test.Start(t)
	s, c := openObjects(t, gw)
	s.SetGCGrace(0)
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", "a password")
	if err != nil {
		t.Fatal(err)
	}
	// Two and a bit chunks, not compressible to nothing, with a word to
	// search for in the second chunk.
	var body strings.Builder
	needle := false
	for i := 0; body.Len() < 2*chunkSize+1000; i++ {
		body.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%70) + " line " + string(rune('A'+i%26)) + "\n")
		if !needle && body.Len() > chunkSize+5000 {
			body.WriteString("the needle is here\n")
			needle = true
		}
	}
	raw := storetest.Msg{Subject: "big", Body: body.String()}.Bytes()
	if !bytes.Contains(raw[chunkSize:2*chunkSize], []byte("needle")) {
		t.Fatal("test message: the needle is not in the second chunk")
	}
	res, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res)
	}
	var name *string
	var chunks int
	if err := s.pool.QueryRow(ctx, `SELECT b.objects, (SELECT count(*) FROM body_chunks c WHERE c.body_id = b.id)
		FROM bodies b`).Scan(&name, &chunks); err != nil {
		t.Fatal(err)
	}
	if name == nil || chunks != 0 {
		t.Fatalf("body row: objects %v, %d chunks in the database; want objects and no chunks", name, chunks)
	}
	want := []string{*name + "/0", *name + "/1", *name + "/2"}
	if got := objectKeysIn(t, c); !slices.Equal(got, want) {
		t.Fatalf("objects %q, want %q", got, want)
	}
	blob := store.Ingest(raw).ID
	rc, err := s.Open(ctx, blob)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Open: %d bytes, %v; want %d bytes", len(got), err, len(raw))
	}
	off, n := int64(chunkSize-10), int64(chunkSize+20) // across three chunks
	rc, err = s.OpenRange(ctx, blob, off, n)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, raw[off:off+n]) {
		t.Fatalf("OpenRange: %d bytes, %v", len(got), err)
	}
	uids, err := s.Search(ctx, a.ID, res[0].MailboxID, store.Criteria{Body: []string{"needle"}})
	if err != nil || !slices.Equal(uids, []uint32{res[0].UID}) {
		t.Fatalf("Search BODY needle = %v, %v", uids, err)
	}

	// The same content again: the row is reused, the new upload deleted.
	res2, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}})
	if err != nil || res2[0].Err != nil {
		t.Fatal(err, res2)
	}
	if got := objectKeysIn(t, c); !slices.Equal(got, want) {
		t.Fatalf("after a second delivery: objects %q, want %q", got, want)
	}

	// Expunge both: GC deletes the row, then the objects.
	if _, err := s.ExpungeUIDs(ctx, a.ID, res[0].MailboxID, []uint32{res[0].UID, res2[0].UID}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.GC(ctx); err != nil || n != 1 {
		t.Fatalf("GC = %d, %v; want 1", n, err)
	}
	if got := objectKeysIn(t, c); len(got) != 0 {
		t.Fatalf("after GC: objects %q remain", got)
	}
	if _, err := s.Open(ctx, blob); err == nil {
		t.Fatal("Open after GC: no error")
	}
}

// TestObjectsSweep: the sweep deletes old uploads no body names, keeps
// young ones (a delivery may still be on its way to commit), every
// committed body's objects, and keys that are not Gannet's.
func TestObjectsSweep(t *testing.T) {
	t.Parallel()
	gw := s3test.Start(t)
	s, c := openObjects(t, gw)
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", "a password")
	if err != nil {
		t.Fatal(err)
	}
	raw := storetest.Msg{Subject: "kept", Body: "a body that stays\n"}.Bytes()
	if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
		t.Fatal(err)
	}
	kept := objectKeysIn(t, c)
	if len(kept) != 1 {
		t.Fatalf("objects %q, want one", kept)
	}
	orphan := newObjectName()
	for _, k := range []string{orphan + "/0", orphan + "/1", "README", "other/thing"} {
		if err := c.Put(ctx, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	all := objectKeysIn(t, c)

	// Young: kept.
	if n, err := s.sweepObjects(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("sweep with an hour's grace = %d, %v; want 0", n, err)
	}
	if got := objectKeysIn(t, c); !slices.Equal(got, all) {
		t.Fatalf("after a sweep that should keep all: %q, want %q", got, all)
	}
	// Through GC, with no grace: the orphan goes, nothing else.
	s.SetObjectGrace(-time.Minute)
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(all), func(k string) bool { return strings.HasPrefix(k, orphan) })
	if got := objectKeysIn(t, c); !slices.Equal(got, want) {
		t.Fatalf("after the sweep: %q, want %q", got, want)
	}
	rc, err := s.Open(ctx, store.Ingest(raw).ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, raw) {
		t.Fatal("the kept body after the sweep differs")
	}
	// A second GC right after does not list the bucket again.
	if err := c.Put(ctx, orphan+"/0", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.objectGrace = -time.Minute
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if got := objectKeysIn(t, c); !slices.Contains(got, orphan+"/0") {
		t.Fatal("GC swept again within sweepEvery")
	}
}

// TestObjectsGCRace is TestGCRaceDeliver with bodies in an object store:
// GC deleting a body's objects must never hit those of a delivery racing it.
func TestObjectsGCRace(t *testing.T) {
	t.Parallel()
	gw := s3test.Start(t)
	s, _ := openObjects(t, gw)
	gcRaceDeliver(t, s)
}

// TestObjectsUnreachable: a node whose object store is down refuses to
// start, and a delivery while it is down fails (the sender retries) rather
// than committing a body whose bytes are nowhere.
func TestObjectsUnreachable(t *testing.T) {
	t.Parallel()
	gw := s3test.Start(t)
	s, c := openObjects(t, gw)
	ctx := t.Context()
	if err := s.AddDomain(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "alice@example.org", "a password")
	if err != nil {
		t.Fatal(err)
	}
	gw.Stop()
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	raw := storetest.Msg{Subject: "lost?", Body: "no\n"}.Bytes()
	if _, err := s.Deliver(dctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}}); err == nil {
		t.Fatal("Deliver with the object store down: no error")
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages stored, %v", n, err)
	}
	if _, err := Open(dctx, pg.NewDatabase(t), Options{Objects: c}); err == nil {
		t.Fatal("Open with the object store down: no error")
	}
}
