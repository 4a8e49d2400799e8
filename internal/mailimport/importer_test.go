package mailimport_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gannet/internal/mailimport"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// genMbox writes an mbox of n messages; message dup (if >= 0) is written
// twice in a row with the same bytes.
func genMbox(t *testing.T, n, dup int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		msg := fmt.Sprintf("From x@example.org Mon Jan  1 00:%02d:%02d 2024\nMessage-ID: <%d@example.org>\nSubject: number %d\nStatus: RO\n\nbody %d\n>From quoted\n\n",
			i/60, i%60, i, i, i)
		b.WriteString(msg)
		if i == dup {
			b.WriteString(msg)
		}
	}
	p := filepath.Join(t.TempDir(), "gen.mbox")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func importMbox(ctx context.Context, t *testing.T, im *mailimport.Importer, path string) error {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src := mailimport.NewMbox(f, path, mailimport.Mboxrd, mailimport.Limits{})
	src.Mailbox = mailimport.MboxFolder(path)
	return im.Import(ctx, src)
}

func subjects(t *testing.T, st store.Store, acct *store.Account, box string) []string {
	t.Helper()
	ctx := context.Background()
	mb, err := st.Mailbox(ctx, acct.ID, box)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.List(ctx, acct.ID, mb.ID, nil, store.ListOptions{Parsed: true})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, m.Parsed.Subject)
	}
	return out
}

// An import interrupted half way resumes: the rerun imports exactly what
// is missing, keeps the order, and a message the source holds twice is
// there twice (unless SkipDuplicates).
func TestImportResume(t *testing.T) {
	t.Parallel()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "bob@example.org", "pw")
	path := genMbox(t, 40, 25)
	ctx, cancel := context.WithCancel(context.Background())
	im := &mailimport.Importer{Store: st, Account: acct, Target: "Old/2023", Batch: 4,
		Progress: func(s mailimport.Summary) {
			if s.Messages >= 17 {
				cancel()
			}
		}}
	if err := importMbox(ctx, t, im, path); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v", err)
	}
	// The batch (of 4) in flight when the import stopped may have been
	// stored.
	n := len(subjects(t, st, acct, "Old/2023"))
	if n < 17 || n > 24 || n != im.Summary().Messages {
		t.Fatalf("%d messages after the interruption, summary %+v", n, im.Summary())
	}
	im2 := &mailimport.Importer{Store: st, Account: acct, Target: "Old/2023"}
	if err := importMbox(context.Background(), t, im2, path); err != nil {
		t.Fatal(err)
	}
	if s := im2.Summary(); s.Messages != 41-n || s.Skipped[mailimport.ReasonImported] != n {
		t.Fatalf("resumed summary %+v after %d", s, n)
	}
	got := subjects(t, st, acct, "Old/2023")
	var want []string
	for i := range 40 {
		want = append(want, fmt.Sprintf("number %d", i))
		if i == 25 {
			want = append(want, "number 25")
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after resume:\n got %q\nwant %q", got, want)
	}
	// A third run adds nothing.
	im3 := &mailimport.Importer{Store: st, Account: acct, Target: "Old/2023"}
	if err := importMbox(context.Background(), t, im3, path); err != nil {
		t.Fatal(err)
	}
	if s := im3.Summary(); s.Messages != 0 || s.Skipped[mailimport.ReasonImported] != 41 {
		t.Fatalf("third run %+v", s)
	}

	// SkipDuplicates keeps one copy.
	im4 := &mailimport.Importer{Store: st, Account: acct, Target: "Dedup", SkipDuplicates: true, Workers: 4}
	if err := importMbox(context.Background(), t, im4, path); err != nil {
		t.Fatal(err)
	}
	if s := im4.Summary(); s.Messages != 40 || s.Skipped[mailimport.ReasonDuplicate] != 1 {
		t.Fatalf("skip-duplicates summary %+v", s)
	}
}

// Flags from the mbox arrive in the store, the Status fields do not, and
// a file named Sent goes to the account's \Sent mailbox.
func TestImportMboxFlagsAndSpecialFolder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "carol@example.org", "pw")
	path := filepath.Join(t.TempDir(), "Sent")
	if err := os.WriteFile(path, []byte(muttMbox), 0o600); err != nil {
		t.Fatal(err)
	}
	im := &mailimport.Importer{Store: st, Account: acct}
	if err := importMbox(ctx, t, im, path); err != nil {
		t.Fatal(err)
	}
	sent, err := store.FindSpecialMailbox(ctx, st, acct.ID, store.SpecialSent)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.List(ctx, acct.ID, sent.ID, nil, store.ListOptions{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("Sent: %d messages, %v", len(msgs), err)
	}
	if want := []string{`\Answered`, `\Flagged`, `\Seen`, "$Label1", "work"}; !reflect.DeepEqual(msgs[0].Flags, want) {
		t.Errorf("flags %q, want %q", msgs[0].Flags, want)
	}
	rc, err := st.Open(ctx, msgs[0].BlobID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	buf := make([]byte, 4096)
	n, _ := rc.Read(buf)
	if strings.Contains(string(buf[:n]), "Status:") || !strings.Contains(string(buf[:n]), "\r\nFrom the start\r\n") {
		t.Errorf("stored message %q", buf[:n])
	}
}

// A quota refusal stops the import (every later message would be refused
// too) and says so; what was imported stays.
func TestImportOverQuota(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "dave@example.org", "pw")
	if err := st.SetQuota(ctx, acct.Address, 0, 3); err != nil {
		t.Fatal(err)
	}
	im := &mailimport.Importer{Store: st, Account: acct}
	err := importMbox(ctx, t, im, genMbox(t, 5, -1))
	if !errors.Is(err, store.ErrOverQuota) {
		t.Fatalf("import over quota: %v", err)
	}
	if s := im.Summary(); s.Messages != 3 {
		t.Fatalf("summary %+v", s)
	}
}

// A folder name no store name can be is cleaned, never the end of the
// import.
func TestImportOddFolderName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "frank@example.org", "pw")
	im := &mailimport.Importer{Store: st, Account: acct, Target: "Weird\x01//Name/\xff"}
	if err := importMbox(ctx, t, im, genMbox(t, 2, -1)); err != nil {
		t.Fatal(err)
	}
	if got := subjects(t, st, acct, "Weird_/Name/_"); len(got) != 2 {
		t.Fatalf("%q", got)
	}
}
