package webmail

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"gannet/internal/mailimport"
	"gannet/internal/store"
)

// TestMboxDownload: a folder downloads as an mbox file that reads back
// (mailimport, mboxrd) as the same messages with their flags; a stranger
// without a session gets nothing.
func TestMboxDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	work, err := e.st.CreateMailbox(t.Context(), alice.ID, "Projects/Work ü", "")
	if err != nil {
		t.Fatal(err)
	}
	var raws []string
	for i := range 3 {
		raw := fmt.Sprintf("From: x@example.net\r\nSubject: m%d\r\n\r\nFrom the body %d\r\n", i, i)
		flags := []string{store.FlagSeen, "work"}
		if i == 1 {
			flags = nil
		}
		if _, err := e.st.Append(t.Context(), alice.ID, work.ID, []byte(raw), flags, testTime()); err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	path := fmt.Sprintf("/api/mailboxes/%d/mbox", work.ID)
	if st, _, _ := e.client().do("GET", path, nil, ""); st != 401 {
		t.Fatalf("without a session: status %d", st)
	}
	c := e.login("alice@example.org")
	st, h, body := c.do("GET", path, nil, "")
	if st != 200 || h.Get("Content-Type") != "application/mbox" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || !strings.Contains(h.Get("Content-Disposition"), "Work") {
		t.Fatalf("download: %d %v", st, h)
	}
	if !bytes.Contains(body, []byte("\n>From the body 1\n")) {
		t.Errorf("mboxrd quoting missing:\n%s", body)
	}
	src := mailimport.NewMbox(bytes.NewReader(body), "download", mailimport.Mboxrd, mailimport.Limits{})
	for i := 0; ; i++ {
		m, err := src.Next()
		if err == io.EOF {
			if i != 3 {
				t.Fatalf("%d messages in the download", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Raw) != raws[i] || !m.Date.Equal(testTime()) {
			t.Errorf("message %d: %q %s", i, m.Raw, m.Date)
		}
		if want := "[\\Seen work]"; i != 1 && fmt.Sprint(m.Flags) != want {
			t.Errorf("message %d flags %v", i, m.Flags)
		}
	}
}

// TestZipDownload: the whole account downloads as a zip with one mbox
// file per folder (subfolders in NAME.sbd/), each reading back as the
// folder's messages.
func TestZipDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	e.account("bob@example.org")
	e.deliver(alice, plainMessage(1, "x@example.net"))
	e.deliver(alice, plainMessage(2, "y@example.net"))
	deep, err := e.st.CreateMailbox(t.Context(), alice.ID, "Work/2024", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Append(t.Context(), alice.ID, deep.ID, []byte("Subject: deep\r\n\r\nx\r\n"), []string{store.FlagFlagged}, testTime()); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := e.client().do("GET", "/api/export.zip", nil, ""); st != 401 {
		t.Fatalf("without a session: status %d", st)
	}
	c := e.login("bob@example.org")
	_, _, body := c.do("GET", "/api/export.zip", nil, "")
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "Work.sbd/2024" {
			t.Fatal("bob's download holds alice's folder")
		}
	}
	c = e.login("alice@example.org")
	st, h, body := c.do("GET", "/api/export.zip", nil, "")
	if st != 200 || h.Get("Content-Type") != "application/zip" || !strings.Contains(h.Get("Content-Disposition"), "alice@example.org-mail.zip") {
		t.Fatalf("download: %d %v", st, h)
	}
	zr, err = zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		src := mailimport.NewMbox(rc, f.Name, mailimport.Mboxrd, mailimport.Limits{})
		for {
			m, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			counts[f.Name]++
			if f.Name == "Work.sbd/2024" && (string(m.Raw) != "Subject: deep\r\n\r\nx\r\n" || fmt.Sprint(m.Flags) != `[\Flagged]`) {
				t.Errorf("Work/2024: %q %v", m.Raw, m.Flags)
			}
		}
		rc.Close()
	}
	if counts["INBOX"] != 2 || counts["Work.sbd/2024"] != 1 || len(zr.File) != 8 {
		t.Fatalf("zip entries %v (%d files)", counts, len(zr.File))
	}
}
