package config

import (
	"strings"
	"testing"
)

func TestStoreLocation(t *testing.T) {
	t.Parallel()
	good := []struct {
		value   string
		backend string
		dir     string
	}{
		{"", StoreSQLite, "/srv/gannet"},
		{"sqlite:", StoreSQLite, "/srv/gannet"},
		{"sqlite:/var/mail/db", StoreSQLite, "/var/mail/db"},
		{"postgres://gannet@db.example.com/gannet", StorePostgres, ""},
		{"postgresql://gannet:secret@127.0.0.1:5432/gannet?sslmode=disable", StorePostgres, ""},
	}
	for _, g := range good {
		path := write(t, minimal+"data_dir = \"/srv/gannet\"\nstore = \""+g.value+"\"\n")
		c, err := Load(path)
		if err != nil {
			t.Errorf("store = %q: %v", g.value, err)
			continue
		}
		loc, err := c.StoreLocation()
		if err != nil || loc.Backend != g.backend || loc.Dir != g.dir {
			t.Errorf("store = %q: %+v, %v; want backend %s dir %q", g.value, loc, err, g.backend, g.dir)
		}
		if g.backend == StorePostgres && loc.URL != g.value {
			t.Errorf("store = %q: URL %q", g.value, loc.URL)
		}
	}
	bad := []struct{ value, want string }{
		{"mysql://root@localhost/gannet", `unknown scheme "mysql"`},
		{"/var/lib/gannet", "no scheme"},
		{"postgres:///gannet", "needs a host"},
		{"postgres://user:pa ss@%zz/db", "not a URL"},
	}
	for _, b := range bad {
		path := write(t, minimal+"store = \""+b.value+"\"\n")
		_, err := Load(path)
		wantErr(t, err, "config: store:", b.want)
		if err != nil && strings.Contains(b.value, "pa ss") && strings.Contains(err.Error(), "pa ss") {
			t.Errorf("error %q shows the password", err)
		}
	}
}

func TestBlobLocation(t *testing.T) {
	t.Parallel()
	const pg = "store = \"postgres://gannet@db.example.com/gannet\"\n"
	for _, g := range []struct{ value, bucket, prefix string }{
		{"", "", ""},
		{"s3://mail", "mail", ""},
		{"s3://mail/gannet/bodies/", "mail", "gannet/bodies"},
	} {
		c, err := Load(write(t, minimal+pg+"blobs = \""+g.value+"\"\n"))
		if err != nil {
			t.Errorf("blobs = %q: %v", g.value, err)
			continue
		}
		loc, err := c.BlobLocation()
		if err != nil || loc.Bucket != g.bucket || loc.Prefix != g.prefix {
			t.Errorf("blobs = %q: %+v, %v", g.value, loc, err)
		}
	}
	for _, b := range []struct{ file, want string }{
		{pg + "blobs = \"/var/blobs\"\n", "blobs: want s3://bucket/prefix"},
		{pg + "blobs = \"s3://key:secret@mail/x\"\n", "blobs: want s3://bucket/prefix"},
		{"blobs = \"s3://mail/x\"\n", "needs store = \"postgres://"},
		{pg + "blobs = \"s3://mail\"\n[s3]\naccess_key = \"AKIA\"\n", "s3.access_key"},
		{pg + "blobs = \"s3://mail\"\n[s3]\nendpoint = \"https://minio:9000\"\n", "s3.endpoint"},
	} {
		_, err := Load(write(t, minimal+b.file))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: %v; want an error with %q", b.file, err, b.want)
		}
		if err != nil && strings.Contains(err.Error(), "key:secret") {
			t.Errorf("%q: the error shows the secret: %v", b.file, err)
		}
	}
}
