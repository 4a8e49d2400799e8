package migrate

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store/pgstore"
	"gannet/internal/store/s3blob/s3test"
)

// TestMigrateObjects: `gannet migrate --blobs` puts the bodies in the
// object store: every message reads back the same, and PostgreSQL holds
// no chunk.
func TestMigrateObjects(t *testing.T) {
	ctx := t.Context()
	gw := s3test.Start(t)
	bucket := gw.NewBucket(t, "moved")
	src := openSQLite(t)
	dsn := pg.NewDatabase(t)
	dst, err := pgstore.Open(ctx, dsn, pgstore.Options{FastPasswords: true, Import: true, Objects: bucket})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Close() })
	w := fill(t, src)
	m := must(New(ctx, src, dst, nil))
	st := must(m.Pass(ctx, "pass 1"))
	must(m.Finish(ctx))
	compare(t, src, dst, w)

	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var inObjects, chunks int
	if err := db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE objects IS NOT NULL),
		(SELECT count(*) FROM body_chunks) FROM bodies`).Scan(&inObjects, &chunks); err != nil {
		t.Fatal(err)
	}
	objects := 0
	if err := bucket.Walk(ctx, func(string, time.Time) error { objects++; return nil }); err != nil {
		t.Fatal(err)
	}
	if inObjects != st.Bodies || chunks != 0 || objects < inObjects {
		t.Errorf("%d bodies copied; %d in the object store (%d objects), %d chunk rows in PostgreSQL",
			st.Bodies, inObjects, objects, chunks)
	}
}
