package webmail

import (
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
