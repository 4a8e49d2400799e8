package config

import (
	"testing"
	"time"
)

// TestBackupKeys: [backup] loads, and its validation names the key.
func TestBackupKeys(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, minimal+"data_dir = \"/var/lib/gannet\"\n[backup]\ndir = \"/backup/gannet\"\ninterval = \"6h\"\nkeep = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Backup != (Backup{Dir: "/backup/gannet", Interval: Duration{6 * time.Hour}, Keep: 3}) {
		t.Fatalf("backup %+v", c.Backup)
	}
	for _, tc := range []struct {
		content   string
		fragments []string
	}{
		{"[backup]\ndir = \"/b\"\ninterval = \"10s\"\n", []string{"config: backup.interval:", "at least 1m"}},
		{"[backup]\ndir = \"/b\"\nkeep = 0\n", []string{"config: backup.keep:"}},
		{"data_dir = \"/d\"\n[backup]\ndir = \"/d/backups\"\n", []string{"config: backup.dir:", "inside data_dir"}},
		{"store = \"postgres://u@h/db\"\n[backup]\ndir = \"/b\"\n", []string{"config: backup.dir:", "pg_dump"}},
		{"[backup]\ninterval = \"daily\"\n", []string{"backup.interval", "invalid duration"}},
	} {
		_, err := Load(write(t, minimal+tc.content))
		wantErr(t, err, tc.fragments...)
	}
	// Without a dir nothing else is checked: the defaults stand unused.
	if _, err := Load(write(t, minimal+"[backup]\nkeep = 0\n")); err != nil {
		t.Fatal(err)
	}
}
