package mailexport_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailexport"
	"gannet/internal/mailimport"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// stored is one message as the store holds it.
type stored struct {
	raw   string
	flags []string
	date  time.Time
}

// fixture fills an account with what an export must keep: folders nested,
// special and non-ASCII; flags and keywords; internal dates out of UID
// order; From lines at every quoting depth; a header-only message; state
// fields in a message; a Return-Path; long lines.
func fixture(t *testing.T, st store.Store, acct *store.Account) {
	t.Helper()
	ctx := context.Background()
	for _, n := range []string{"Work", "Work/2024", "Entwürfe", "Empty"} {
		if _, err := st.CreateMailbox(ctx, acct.ID, n, ""); err != nil {
			t.Fatal(err)
		}
	}
	long := strings.Repeat("x", 200000)
	msgs := []struct {
		box   string
		raw   string
		flags []string
		date  string
	}{
		{"INBOX", "Return-Path: <bob@example.net>\r\nFrom: bob@example.net\r\nSubject: one\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\nFromage\r\n", []string{`\Seen`, "$Forwarded", "work"}, "2024-03-01T10:00:00Z"},
		{"INBOX", "From: c@example.net\r\nSubject: two\r\nStatus: RO\r\nX-Keywords: stale\r\n\r\nbody\r\n", nil, "2023-01-01T00:00:00Z"},
		{"INBOX", "Subject: header only\r\n", []string{`\Flagged`, `\Answered`, `\Draft`, `\Deleted`}, "2024-03-02T10:00:00Z"},
		{"INBOX", "Subject: long\r\n\r\n" + long + "\r\n" + long + "\r\n", []string{"$label1", "Important"}, "2024-03-03T10:00:00Z"},
		{"Sent", "From: alice@example.org\r\nSubject: sent\r\n\r\n\r\n\r\nblank lines\r\n\r\n", []string{`\Seen`}, "2022-06-01T08:30:00Z"},
		{"Work", "Subject: work\r\n\r\nFrom here\r\n", []string{"project"}, "2024-01-01T00:00:00Z"},
		{"Work/2024", "Subject: nested\r\n\r\nx\r\n", []string{`\Seen`, "project", "later"}, "2024-02-01T00:00:00Z"},
		{"Entwürfe", "Subject: =?utf-8?q?Entw=C3=BCrfe?=\r\n\r\ny\r\n", []string{`\Draft`}, "2024-02-02T00:00:00Z"},
	}
	for _, m := range msgs {
		mb, err := st.Mailbox(ctx, acct.ID, m.box)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := time.Parse(time.RFC3339, m.date)
		if _, err := st.Append(ctx, acct.ID, mb.ID, []byte(m.raw), m.flags, d); err != nil {
			t.Fatal(err)
		}
	}
}

// contents reads every mailbox of an account: name → messages in UID order.
func contents(t *testing.T, st store.Store, acct *store.Account) map[string][]stored {
	t.Helper()
	ctx := context.Background()
	mbs, err := st.Mailboxes(ctx, acct.ID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]stored{}
	for _, mb := range mbs {
		msgs, err := st.List(ctx, acct.ID, mb.ID, nil, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out[mb.Name] = []stored{}
		for _, m := range msgs {
			rc, err := st.Open(ctx, m.BlobID)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[mb.Name] = append(out[mb.Name], stored{raw: string(b), flags: m.Flags, date: m.InternalDate.UTC()})
		}
	}
	return out
}

// stripState removes the mbox state fields from a CRLF message, as an
// import does: the fixture's message that carries some loses them.
func stripState(raw string) string {
	hdr, body, ok := strings.Cut(raw, "\r\n\r\n")
	if !ok {
		return raw
	}
	var keep []string
	for _, l := range strings.Split(hdr, "\r\n") {
		n, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(n) {
		case "status", "x-keywords":
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\r\n") + "\r\n\r\n" + body
}

func export(t *testing.T, st store.Store, acct *store.Account, f mailexport.Format) (string, mailexport.Summary) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	ex := &mailexport.Exporter{Store: st, Account: acct, Format: f, Dir: dir}
	if err := ex.Export(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir, ex.Summary()
}

// TestRoundTrip: an export read back by mailimport gives the same
// mailboxes, bytes, flags, keywords and internal dates, in both formats.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	st := testopen.Open(t, testopen.FastPasswords)
	src := storetest.NewAccount(t, st, "src@example.org", "pw")
	fixture(t, st, src)
	for _, f := range []mailexport.Format{mailexport.Mbox, mailexport.Maildir} {
		t.Run(f.String(), func(t *testing.T) {
			want := contents(t, st, src)
			if f == mailexport.Mbox {
				// The state fields a message carried are dropped, on
				// the way out as on the way in (Maildir keeps every byte).
				for i, m := range want["INBOX"] {
					want["INBOX"][i].raw = stripState(m.raw)
				}
			}
			dir, sum := export(t, st, src, f)
			if sum.Messages != 8 || len(sum.Folders) != len(want) {
				t.Fatalf("summary %+v", sum)
			}
			dst := storetest.NewAccount(t, st, "dst-"+f.String()+"@example.org", "pw")
			im := &mailimport.Importer{Store: st, Account: dst}
			ctx := context.Background()
			if f == mailexport.Maildir {
				md, err := mailimport.OpenMaildir(dir, mailimport.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if err := im.Import(ctx, md); err != nil {
					t.Fatal(err)
				}
			} else {
				files, err := mailimport.MboxTree(dir)
				if err != nil {
					t.Fatal(err)
				}
				for _, mf := range files {
					fh, err := os.Open(mf.Path)
					if err != nil {
						t.Fatal(err)
					}
					src := mailimport.NewMbox(fh, mf.Path, mailimport.Mboxrd, mailimport.Limits{})
					src.Mailbox = mf.Folder
					err = im.Import(ctx, src)
					fh.Close()
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if s := im.Summary(); s.SkippedTotal() != 0 {
				t.Fatalf("import skipped %v %v", s.Skipped, s.Reports)
			}
			got := contents(t, st, dst)
			for box, msgs := range want {
				if len(msgs) == 0 && f == mailexport.Mbox {
					continue // an empty mbox file is no folder to an import
				}
				if !reflect.DeepEqual(got[box], msgs) {
					t.Errorf("%s:\n got %s\nwant %s", box, show(got[box]), show(msgs))
				}
			}
		})
	}
}

func show(ms []stored) string {
	var b strings.Builder
	for _, m := range ms {
		raw := m.raw
		if len(raw) > 120 {
			raw = raw[:120] + "..."
		}
		fmt.Fprintf(&b, "\n  %q %q %s", raw, m.flags, m.date)
	}
	return b.String()
}

// TestExportRefusesNonEmptyDir: an export never mixes with other files.
func TestExportRefusesNonEmptyDir(t *testing.T) {
	t.Parallel()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "a@example.org", "pw")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ex := &mailexport.Exporter{Store: st, Account: acct, Dir: dir}
	if err := ex.Export(context.Background()); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("export into a non-empty dir: %v", err)
	}
}

// TestMboxFile checks the mbox text itself: From_ line, mboxrd quoting,
// the status fields as mutt writes them, LF line ends.
func TestMboxFile(t *testing.T) {
	t.Parallel()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "m@example.org", "pw")
	fixture(t, st, acct)
	dir, _ := export(t, st, acct, mailexport.Mbox)
	b, err := os.ReadFile(filepath.Join(dir, "INBOX"))
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.Mailbox(context.Background(), acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	want := "From bob@example.net Fri Mar  1 10:00:00 2024\nReturn-Path: <bob@example.net>\nFrom: bob@example.net\nSubject: one\n" +
		fmt.Sprintf("X-IMAPbase: %d 5 $Forwarded work $label1 Important\n", inbox.UIDValidity) +
		"Status: RO\nX-Keywords: $Forwarded work\nX-UID: 1\n\n>From the start\n>>From quoted\n>>>From twice\nFromage\n\n" +
		"From MAILER-DAEMON Sun Jan  1 00:00:00 2023\nFrom: c@example.net\nSubject: two\nStatus: O\nX-UID: 2\n\nbody\n\n" +
		"From MAILER-DAEMON Sat Mar  2 10:00:00 2024\nSubject: header only\nStatus: O\nX-Status: AFTD\nX-UID: 3\n\n"
	if !bytes.HasPrefix(b, []byte(want)) {
		t.Fatalf("INBOX mbox starts\n%q\nwant\n%q", b[:min(len(b), len(want)+100)], want)
	}
	for _, p := range []string{"Work", "Work.sbd/2024", "Entwürfe", "Sent", "Empty"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
}
