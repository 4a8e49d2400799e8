package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"gannet/internal/store/s3blob"
	"gannet/internal/store/s3blob/s3test"
)

// TestThreeNodesObjects is TestThreeNodes with the message bodies in an
// S3-compatible object store (versitygw on loopback): no body reaches
// PostgreSQL or a node's disk, and every message still reads back whole.
func TestThreeNodesObjects(t *testing.T) {
	gw := s3test.Start(t)
	bucket := gw.NewBucket(t, "")
	secret := filepath.Join(t.TempDir(), "s3-secret")
	if err := os.WriteFile(secret, []byte(gw.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSuffix(strings.TrimPrefix(bucket.String(), "s3://"), "/")
	c := newClusterTop(t, 3, fmt.Sprintf("blobs = \"s3://%s/gannet/bodies\"", name),
		fmt.Sprintf("\n[s3]\nendpoint = %q\nregion = \"us-east-1\"\naccess_key = %q\nsecret_key_file = %q\nplain_http = true\n",
			gw.Endpoint, gw.AccessKey, secret))
	threeNodes(t, c)

	db, err := pgx.Connect(t.Context(), c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var bodies, inDB, chunks int
	if err := db.QueryRow(t.Context(), `SELECT count(*), count(*) FILTER (WHERE objects IS NULL),
		(SELECT count(*) FROM body_chunks) FROM bodies`).Scan(&bodies, &inDB, &chunks); err != nil {
		t.Fatal(err)
	}
	objects := 0
	c2, err := s3blob.New(gw.Options(name, "gannet/bodies"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Walk(t.Context(), func(string, time.Time) error { objects++; return nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bodies, %d objects", bodies, objects)
	if bodies == 0 || inDB != 0 || chunks != 0 || objects < bodies {
		t.Errorf("%d bodies, %d of them in PostgreSQL, %d chunk rows, %d objects: want every body in the object store",
			bodies, inDB, chunks, objects)
	}
}
