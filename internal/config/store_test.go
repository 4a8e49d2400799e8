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
