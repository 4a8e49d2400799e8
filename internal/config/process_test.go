package config

import (
	"log/slog"
	"testing"
)

func TestProcessKeys(t *testing.T) {
	t.Parallel()
	c, err := Load(write(t, minimal+"user = \"gannet\"\nallow_root = true\nlog_format = \"json\"\nlog_level = \"WARN\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.User != "gannet" || !c.AllowRoot || c.LogFormat != "json" {
		t.Errorf("got user %q allow_root %v log_format %q", c.User, c.AllowRoot, c.LogFormat)
	}
	if l, err := ParseLogLevel(c.LogLevel); err != nil || l != slog.LevelWarn {
		t.Errorf("log_level %q = %v, %v", c.LogLevel, l, err)
	}
	d := Default()
	if d.LogFormat != "text" || d.LogLevel != "info" || d.User != "" || d.AllowRoot {
		t.Errorf("defaults: %q %q %q %v", d.LogFormat, d.LogLevel, d.User, d.AllowRoot)
	}
	for _, tc := range []struct{ content, key, frag string }{
		{"log_format = \"xml\"\n", "config: log_format:", `"xml"`},
		{"log_format = \"\"\n", "config: log_format:", `want "text" or "json"`},
		{"log_level = \"verbose\"\n", "config: log_level:", `"verbose"`},
		{"user = \"-root\"\n", "config: user:", "not a user name"},
		{"user = \"a b\"\n", "config: user:", "not a user name"},
		{"user = \"abcdefghijklmnopqrstuvwxyz0123456789\"\n", "config: user:", "not a user name"},
	} {
		_, err := Load(write(t, minimal+tc.content))
		wantErr(t, err, tc.key, tc.frag)
	}
}
