package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
)

// version is the release, stamped by release.sh with
// -ldflags "-X main.version=...". Unstamped builds report the module version
// when built with go install, else "dev".
var version = "dev"

// The VCS state of the build, stamped by release.sh from git with -X as
// well: the go command records it in the build information only when the
// module sits in a plain git checkout (not a git worktree, nor a tarball),
// and only when -buildvcs is on. Build information wins when it has them.
var (
	revision   = ""
	commitTime = ""
	modified   = ""
)

// cmdVersion prints the release and what the Go toolchain recorded about the
// build: the VCS revision, its commit time, and whether the work tree had
// uncommitted changes (runtime/debug.ReadBuildInfo; present when built from a
// git checkout with -buildvcs, as release.sh does).
func cmdVersion(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "version", "")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	bi, _ := debug.ReadBuildInfo()
	writeVersion(e.stdout, version, bi, map[string]string{
		"vcs.revision": revision, "vcs.time": commitTime, "vcs.modified": modified})
	return nil
}

// writeVersion prints the version lines for stamped and bi (nil when the
// binary has no build information), with vcs the VCS settings stamped by -X.
func writeVersion(w io.Writer, stamped string, bi *debug.BuildInfo, vcs map[string]string) {
	release := stamped
	if release == "dev" && bi != nil && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		release = bi.Main.Version
	}
	fmt.Fprintf(w, "gannet %s\n", release)
	settings := map[string]string{}
	for k, v := range vcs {
		if v != "" {
			settings[k] = v
		}
	}
	goVersion := runtime.Version()
	if bi != nil {
		goVersion = bi.GoVersion
		if slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == "vcs.revision" }) {
			clear(settings)
		}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
	}
	if rev := settings["vcs.revision"]; rev != "" {
		fmt.Fprintf(w, "revision: %s\n", rev)
		if t := settings["vcs.time"]; t != "" {
			fmt.Fprintf(w, "commit time: %s\n", t)
		}
		if m := settings["vcs.modified"]; m != "" {
			fmt.Fprintf(w, "modified: %s\n", m)
		}
	} else {
		fmt.Fprintln(w, "revision: unknown (built without VCS information)")
	}
	fmt.Fprintf(w, "go: %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
}
