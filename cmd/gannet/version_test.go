package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"
)

func TestWriteVersion(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"},
		{Key: "vcs.time", Value: "2026-12-07T19:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	for _, tc := range []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		vcs     map[string]string
		want    []string
	}{
		{"stamped with VCS", "1.2.3", bi, nil, []string{"gannet 1.2.3\n", "revision: 0123456789abcdef\n",
			"commit time: 2026-12-07T19:00:00Z\n", "modified: true\n", "go: go1.99 "}},
		{"build info wins", "dev", bi, map[string]string{"vcs.revision": "fedcba"}, []string{"gannet dev\n", "revision: 0123456789abcdef\n"}},
		{"go install", "dev", &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v0.4.0"}},
			nil, []string{"gannet v0.4.0\n", "revision: unknown"}},
		{"stamped by -X", "1.0", &debug.BuildInfo{GoVersion: "go1.99"},
			map[string]string{"vcs.revision": "fedcba", "vcs.time": "2026-01-02T03:04:05Z", "vcs.modified": "false"},
			[]string{"gannet 1.0\n", "revision: fedcba\n", "commit time: 2026-01-02T03:04:05Z\n", "modified: false\n"}},
		{"no build info", "dev", nil, nil, []string{"gannet dev\n", "revision: unknown", "go: go"}},
	} {
		var b bytes.Buffer
		writeVersion(&b, tc.stamped, tc.bi, tc.vcs)
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output %q lacks %q", tc.name, b.String(), w)
			}
		}
	}
}

// "gannet version" and "gannet --version" print the same.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	var out [2]bytes.Buffer
	for i, arg := range []string{"version", "--version"} {
		e := &env{stdin: strings.NewReader(""), stdout: &out[i], stderr: &out[i]}
		if code := run(context.Background(), e, []string{arg}); code != 0 {
			t.Fatalf("gannet %s exited %d: %s", arg, code, out[i].String())
		}
	}
	if !strings.HasPrefix(out[0].String(), "gannet ") || out[0].String() != out[1].String() {
		t.Errorf("version %q, --version %q", out[0].String(), out[1].String())
	}
	e := &env{stdin: strings.NewReader(""), stdout: &out[0], stderr: &out[0]}
	if code := run(context.Background(), e, []string{"version", "extra"}); code == 0 {
		t.Error("gannet version extra succeeded")
	}
}
