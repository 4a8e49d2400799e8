package webmail

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// TestAttachmentNamesWithoutHiddenCharacters: attachment names in the
// message JSON the UI shows keep no bidi controls or other control and
// format characters, which disguise a name ("invoice\u202Efdp.exe" shows as
// "invoiceexe.pdf"; issue 13, finding 9). Checked to fail without the fix.
func TestAttachmentNamesWithoutHiddenCharacters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.account("alice@example.org")
	inbox := e.mailbox(alice, "INBOX")
	names := []struct{ encoded, want string }{
		{"invoice%E2%80%AEfdp.exe", "invoicefdp.exe"},                  // U+202E RIGHT-TO-LEFT OVERRIDE
		{"%E2%81%A6report%E2%81%A9.pdf%E2%80%8F", "report.pdf"},        // U+2066/U+2069 isolates, U+200F RLM
		{"zero%E2%80%8Bwidth%EF%BB%BF.txt", "zerowidth.txt"},           // U+200B, U+FEFF
		{"line%E2%80%A8sep%0D%0Anew%07bell.doc", "linesepnewbell.doc"}, // U+2028, CR LF, BEL
		{"%D7%A9%D7%9C%D7%95%D7%9D.txt", "שלום.txt"},                   // Hebrew letters stay
		{"%E2%80%AE%E2%80%AC", "part-7.bin"},                           // nothing left: a made-up name
	}
	var b strings.Builder
	b.WriteString("From: a@example.net\r\nTo: alice@example.org\r\nSubject: names\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n")
	for _, n := range names {
		fmt.Fprintf(&b, "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''%s\r\n"+
			"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n", n.encoded)
	}
	b.WriteString("--b--\r\n")
	uid := e.deliver(alice, []byte(b.String()))
	c := e.login("alice@example.org")
	var m messageJSON
	if st := c.json("GET", fmt.Sprintf("/api/mailboxes/%d/messages/%d", inbox.ID, uid), nil, &m); st != 200 {
		t.Fatalf("view: %d", st)
	}
	if len(m.Attachments) != len(names) {
		t.Fatalf("%d attachments, want %d: %+v", len(m.Attachments), len(names), m.Attachments)
	}
	for i, a := range m.Attachments {
		if a.Filename != names[i].want {
			t.Errorf("attachment %d: name %q, want %q", i, a.Filename, names[i].want)
		}
		if strings.ContainsFunc(a.Filename, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) }) {
			t.Errorf("attachment %d: name %q keeps a control or format character", i, a.Filename)
		}
	}
}
