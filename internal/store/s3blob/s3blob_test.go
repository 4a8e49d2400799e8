package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gannet/internal/store"
	"gannet/internal/store/s3blob"
	"gannet/internal/store/s3blob/s3test"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, bucket, prefix string }{
		{"s3://mail", "mail", ""},
		{"s3://mail/", "mail", ""},
		{"s3://mail/gannet/bodies/", "mail", "gannet/bodies"},
	} {
		b, p, err := s3blob.ParseURL(tc.in)
		if err != nil || b != tc.bucket || p != tc.prefix {
			t.Errorf("ParseURL(%q) = %q, %q, %v; want %q, %q", tc.in, b, p, err, tc.bucket, tc.prefix)
		}
	}
	for _, bad := range []string{"", "mail", "http://mail/x", "s3:///x", "s3://key:secret@mail/x", "s3://mail/x?region=y"} {
		if _, _, err := s3blob.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q): no error", bad)
		}
	}
}

func TestClient(t *testing.T) {
	srv := s3test.Start(t)
	ctx := context.Background()
	c := srv.NewBucket(t, "install/one")
	if err := c.Check(ctx); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("chunk "), 1000)
	if err := c.Put(ctx, "ab/0", data); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "ab/1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "ab/0", int64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	if _, err := c.Get(ctx, "ab/0", int64(len(data))-1); err == nil {
		t.Fatal("Get beyond its bound: no error")
	}
	if _, err := c.Get(ctx, "nothing/0", 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v, want ErrNotFound", err)
	}

	// Another prefix in the same bucket is invisible to this one.
	other, err := s3blob.New(srv.Options(bucketOf(t, c), "install/two"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Put(ctx, "zz/0", []byte("other")); err != nil {
		t.Fatal(err)
	}
	var keys []string
	start := time.Now().Add(-time.Hour)
	err = c.Walk(ctx, func(key string, mod time.Time) error {
		if mod.Before(start) {
			t.Errorf("%s: last modified %v", key, mod)
		}
		keys = append(keys, key)
		return nil
	})
	if err != nil || !slices.Equal(keys, []string{"ab/0", "ab/1"}) {
		t.Fatalf("Walk = %q, %v", keys, err)
	}
	stop := errors.New("stop")
	n := 0
	if err := c.Walk(ctx, func(string, time.Time) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Walk stopping early = %v after %d keys", err, n)
	}

	if err := c.Delete(ctx, []string{"ab/0", "ab/1", "never/0"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "ab/0", 1<<20); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if _, err := other.Get(ctx, "zz/0", 10); err != nil {
		t.Fatalf("the other prefix's object: %v", err)
	}
}

func TestCheckMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	c, err := s3blob.New(srv.Options("nosuchbucket", ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check(context.Background()); err == nil {
		t.Fatal("Check of a missing bucket: no error")
	}
	bad := srv.Options("nosuchbucket", "")
	bad.SecretKey = "wrong"
	c, err = s3blob.New(bad)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Check(context.Background())
	if err == nil {
		t.Fatal("Check with a wrong secret: no error")
	}
}

// bucketOf reads the bucket's name back from the client's description.
func bucketOf(t *testing.T, c *s3blob.Client) string {
	s := c.String()[len("s3://"):]
	return s[:bytes.IndexByte([]byte(s), '/')]
}
