package sqlstore

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gannet/internal/store"
)

// bigMessage is a message over inlineMax, so its body is a blob file; the
// random part keeps it from compressing away and from matching another.
func bigMessage(t *testing.T, subject string) []byte {
	t.Helper()
	b := make([]byte, inlineMax)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return []byte("Subject: " + subject + "\r\n\r\n" + hex.EncodeToString(b) + "\r\n")
}

func verifyProblems(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	st, err := Verify(t.Context(), dir, func(p string) { out = append(out, p) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Problems != int64(len(out)) {
		t.Fatalf("stats say %d problems, %d reported", st.Problems, len(out))
	}
	return out
}

// TestVerify: a sound store has no problems; a flipped byte in a blob file,
// a deleted blob file, damaged inline bytes, a wrong mailbox counter and a
// wrong quota usage are each reported, in words that say where; nothing is
// changed by the check.
func TestVerify(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	if err := s.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "a@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 5 {
		raw := testMessage(fmt.Sprintf("small%d", i))
		if i < 3 {
			raw = bigMessage(t, fmt.Sprintf("big%d", i))
		}
		if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, store.Ingest(raw).ID)
	}
	if p := verifyProblems(t, s.dir); len(p) != 0 {
		t.Fatalf("a sound store: %q", p)
	}

	// A flipped byte in the middle of a blob file (inside a compressed
	// frame), and another blob file deleted.
	flipped := filepath.Join(s.dir, "blobs", ids[0][:2], ids[0])
	b, err := os.ReadFile(flipped)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x20
	if err := os.WriteFile(flipped, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(s.dir, "blobs", ids[1][:2], ids[1])); err != nil {
		t.Fatal(err)
	}
	// Damaged inline bytes, a counter and a usage gone wrong.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dir, "gannet.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`UPDATE bodies SET data = x'00' || substr(data, 2) WHERE blob = '` + ids[3] + `'`,
		`UPDATE mailboxes SET unseen = unseen + 1 WHERE name = 'INBOX'`,
		`UPDATE accounts SET used_bytes = used_bytes - 7`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	before, err := os.ReadFile(filepath.Join(s.dir, "gannet.db"))
	if err != nil {
		t.Fatal(err)
	}

	got := verifyProblems(t, s.dir)
	want := []string{
		"a@example.com/INBOX uid 1: body " + ids[0] + ": the message file",
		"a@example.com/INBOX uid 2: body " + ids[1] + ": the message file " + filepath.Join(s.dir, "blobs", ids[1][:2], ids[1]) + " is missing",
		"a@example.com/INBOX uid 4: body " + ids[3] + ": the bytes stored in the database do not decompress",
		"mailbox a@example.com/INBOX: counter unseen is 6, the messages say 5",
		"account a@example.com: quota usage says",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem starting %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
	after, err := os.ReadFile(filepath.Join(s.dir, "gannet.db"))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("verify changed the database file")
	}
}

// TestVerifyNoDatabase: a directory without a database is an error, and
// none is created there.
func TestVerifyNoDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Verify(t.Context(), dir, func(string) {}); err == nil {
		t.Fatal("verify of an empty directory succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("verify left %d files", len(ents))
	}
}

// TestCopyDatabase: the copy holds what was committed, names the blob
// files its bodies need (and no inline ones), and opens on its own.
func TestCopyDatabase(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t)
	if err := s.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := s.AddAccount(ctx, "a@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	big := bigMessage(t, "big")
	for _, raw := range [][]byte{big, testMessage("small")} {
		if _, err := s.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: a.ID}}}); err != nil {
			t.Fatal(err)
		}
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	var blobs []string
	c, err := CopyDatabase(ctx, s.dir, dst, func(id string) error { blobs = append(blobs, id); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) != 1 || blobs[0] != store.Ingest(big).ID || c.Blobs != 1 || c.Messages != 2 || c.Accounts != 1 || c.Bytes == 0 {
		t.Fatalf("copy: %+v, blobs %q", c, blobs)
	}
	if _, err := os.Stat(dst + "-wal"); err == nil {
		t.Error("the copy left a WAL file: it is not self-contained")
	}
	if _, err := CopyDatabase(ctx, s.dir, dst, func(string) error { return nil }); err == nil {
		t.Error("CopyDatabase overwrote an existing file")
	}
}
