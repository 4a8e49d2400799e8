package pgstore

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store"
	"gannet/internal/store/pgstore/pgtest"
	"gannet/internal/store/storetest"
)

// pg is this test binary's PostgreSQL server (pgtest.Main starts and stops it).
var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, pgtest.Options{}, &pg)) }

// openDSN opens a Store on dsn and closes it when the test ends.
func openDSN(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, Options{FastPasswords: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// openTest opens a Store on a fresh database.
func openTest(t testing.TB) *Store { return openDSN(t, pg.NewDatabase(t)) }

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// TestMigrateTwice: a second node opening the same database applies nothing
// again, and both see one schema version.
func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	va, err := a.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	vb, err := b.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	migs, err := knownMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if want := migs[len(migs)-1].version; va != want || vb != want {
		t.Fatalf("schema versions %d, %d; want %d", va, vb, want)
	}
	var rows int
	if err := a.pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_version").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Fatalf("schema_version has %d rows, want 1", rows)
	}
}

// TestRefuseNewerSchema: a node refuses a database whose schema is newer
// than it knows, rather than writing to tables it does not understand.
func TestRefuseNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	s := openDSN(t, dsn)
	if _, err := s.pool.Exec(t.Context(), "UPDATE schema_version SET version = version + 1"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), dsn, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open on a newer schema: %v; want a refusal naming the newer schema", err)
	}
}

// TestFeedAcrossNodes: a change committed through one Store reaches a
// subscriber of another Store on the same database (LISTEN/NOTIFY), once;
// a rolled-back write reaches nobody.
func TestFeedAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	subA := a.Subscribe(7)
	defer subA.Close()
	subB := b.Subscribe(7)
	defer subB.Close()
	ctx := t.Context()
	// A rolled-back write: nothing may arrive.
	_ = a.write(ctx, func(ctx context.Context, t *tx) error {
		t.publish(store.Change{AccountID: 7, MailboxID: 1, ModSeq: 99, Kind: store.ChangeNew})
		return store.ErrNotPermitted
	})
	uids := make([]uint32, 2000) // too many for one payload: sent without UIDs
	for i := range uids {
		uids[i] = uint32(i + 1)
	}
	err := a.write(ctx, func(ctx context.Context, t *tx) error {
		t.publish(store.Change{AccountID: 7, MailboxID: 1, ModSeq: 100, Kind: store.ChangeNew, UIDs: []uint32{5}})
		t.publish(store.Change{AccountID: 7, MailboxID: 2, ModSeq: 101, Kind: store.ChangeExpunge, UIDs: uids})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, sub := range map[string]store.Subscription{"same node": subA, "other node": subB} {
		var got []store.Change
		deadline := time.After(5 * time.Second)
		for len(got) < 2 {
			select {
			case <-sub.C():
				cs, o := sub.Next()
				if o {
					t.Fatalf("%s: overflow", name)
				}
				got = append(got, cs...)
			case <-deadline:
				t.Fatalf("%s: got %v before the deadline; want 2 changes", name, got)
			}
		}
		if len(got) != 2 || got[0].ModSeq != 100 || got[1].ModSeq != 101 || got[1].Kind != store.ChangeExpunge ||
			len(got[0].UIDs) != 1 || got[0].UIDs[0] != 5 {
			t.Fatalf("%s: got %+v", name, got)
		}
		select {
		case <-sub.C():
			if cs, _ := sub.Next(); len(cs) != 0 {
				t.Fatalf("%s: extra changes %+v (the rolled-back write, or a duplicate)", name, cs)
			}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestFeedReconnect: when the listening connection is killed, the node
// reconnects and tells its subscribers to resynchronise, then hears new
// changes again.
func TestFeedReconnect(t *testing.T) {
	t.Parallel()
	dsn := pg.NewDatabase(t)
	a := openDSN(t, dsn)
	b := openDSN(t, dsn)
	sub := b.Subscribe(3)
	defer sub.Close()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Kill every LISTENing backend of this database but ours.
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.C():
		if _, o := sub.Next(); !o {
			t.Fatal("no resync signal after the feed reconnected")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no resync signal within 10 s of losing the feed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := a.write(ctx, func(ctx context.Context, t *tx) error {
			t.publish(store.Change{AccountID: 3, MailboxID: 1, ModSeq: 5, Kind: store.ChangeFlags})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-sub.C():
			if cs, _ := sub.Next(); len(cs) > 0 && cs[0].ModSeq == 5 {
				return
			}
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("changes not heard after the reconnect")
		}
	}
}
