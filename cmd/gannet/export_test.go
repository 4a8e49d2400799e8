package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand: mail imported from an mbox is exported in both
// formats, and importing each export into another account gives the same
// folders and counts; a rerun into the same directory is refused.
func TestExportCommand(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	src := t.TempDir()
	mustRun(t, "", "domain", "add", "--data", data, "example.org")
	for _, u := range []string{"alice", "bob", "carol"} {
		mustRun(t, "pw\n", "user", "add", "--data", data, u+"@example.org")
	}
	writeTestFile(t, filepath.Join(src, "Sent"),
		"From alice@example.org Mon Jan  1 10:00:00 2024\nSubject: sent one\nStatus: RO\nX-Status: AF\nX-Keywords: work\n\n>From here\n\n"+
			"From alice@example.org Wed Jan  3 10:00:00 2024\nSubject: sent two\n\nbye\n")
	writeTestFile(t, filepath.Join(src, "Work.sbd", "2024"),
		"From x@example.org Mon Jan  1 10:00:00 2024\nSubject: w\n\nwork\n")
	mustRun(t, "", "import", "mbox", "--data", data, "--to", "alice@example.org", src)

	out := filepath.Join(t.TempDir(), "out")
	res := mustRun(t, "", "export", "alice@example.org", "--data", data, "--format", "mbox", filepath.Join(out, "mbox"))
	if !strings.Contains(res, "exported 3 messages") || !strings.Contains(res, "Work/2024") {
		t.Fatalf("export mbox:\n%s", res)
	}
	res = mustRun(t, "", "export", "--data", data, "alice@example.org", filepath.Join(out, "md"))
	if !strings.Contains(res, "exported 3 messages") || !strings.Contains(res, "(maildir)") {
		t.Fatalf("export maildir:\n%s", res)
	}
	if _, err := os.Stat(filepath.Join(out, "md", ".Work.2024", "dovecot-uidlist")); err != nil {
		t.Fatal(err)
	}
	res = mustRun(t, "", "import", "mbox", "--data", data, "--to", "bob@example.org", filepath.Join(out, "mbox"))
	if !strings.Contains(res, "imported 3 messages") {
		t.Fatalf("import of the mbox export:\n%s", res)
	}
	res = mustRun(t, "", "import", "maildir", "--data", data, "--to", "carol@example.org", filepath.Join(out, "md"))
	if !strings.Contains(res, "imported 3 messages") {
		t.Fatalf("import of the maildir export:\n%s", res)
	}
	// Into a directory that is not empty: refused, nothing written.
	code, _, errs := gannet(t, "", "export", "--data", data, "alice@example.org", filepath.Join(out, "md"))
	if code == 0 || !strings.Contains(errs, "not empty") {
		t.Fatalf("export into a used directory: exit %d, %q", code, errs)
	}
	code, _, errs = gannet(t, "", "export", "--data", data, "nobody@example.org", filepath.Join(out, "x"))
	if code == 0 || !strings.Contains(errs, "nobody@example.org") {
		t.Fatalf("export of an unknown account: exit %d, %q", code, errs)
	}
	// Every account.
	res = mustRun(t, "", "export", "--all", "--data", data, "--format", "mbox", filepath.Join(out, "all"))
	for _, u := range []string{"alice", "bob", "carol"} {
		if _, err := os.Stat(filepath.Join(out, "all", u+"@example.org", "INBOX")); err != nil {
			t.Errorf("--all: %v\n%s", err, res)
		}
	}
}
