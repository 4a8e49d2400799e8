package mailexport

import (
	"bufio"
	"bytes"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailimport"
	"gannet/internal/store"
)

// FuzzMboxRoundTrip: any message in the form the store keeps (CRLF line
// ends, a header first, no mbox state fields, a final line end) written by
// the mbox writer reads back through mailimport's mboxrd reader with the
// same bytes, flags and date, however its lines play with "From ".
func FuzzMboxRoundTrip(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nFrom here\r\n>From there\r\n>>From\r\n",
		"Subject: only\r\n",
		"A: b\r\n\r\n\r\n\r\n",
		"From: a\r\n\r\nFrom \r\n\r\nFrom a Mon Jan  1 00:00:00 2024\r\n",
		"X: y\r\n continued\r\n\r\nbody\rwith CR\r\n",
	} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, raw string, flagBits uint8) {
		if !canonical(raw) {
			// Make a body of it: its lines, CRLF-ended, under a header.
			var b strings.Builder
			b.WriteString("Subject: f\r\n\r\n")
			for _, l := range strings.Split(raw, "\n") {
				b.WriteString(strings.ReplaceAll(l, "\r", ""))
				b.WriteString("\r\n")
			}
			raw = b.String()
			if !canonical(raw) {
				t.Skip()
			}
		}
		var flags []string
		for i, fl := range []string{store.FlagAnswered, store.FlagDeleted, store.FlagDraft, store.FlagFlagged, store.FlagSeen, "$Forwarded", "work"} {
			if flagBits>>i&1 == 1 {
				flags = append(flags, fl)
			}
		}
		date := time.Date(2024, 2, 29, 23, 59, 58, 0, time.UTC)
		var out bytes.Buffer
		mw := &mboxWriter{w: bufio.NewWriterSize(&out, 64<<10), br: bufio.NewReaderSize(nil, 64<<10)}
		// Twice: the second message must not run into the first.
		for range 2 {
			if err := mw.add(&store.Message{Flags: flags, InternalDate: date}, strings.NewReader(raw)); err != nil {
				t.Fatal(err)
			}
		}
		if err := mw.close(); err != nil {
			t.Fatal(err)
		}
		src := mailimport.NewMbox(bytes.NewReader(out.Bytes()), "fuzz", mailimport.Mboxrd, mailimport.Limits{})
		for i := range 2 {
			m, err := src.Next()
			if err != nil {
				t.Fatalf("message %d: %v\nmbox %q", i, err, out.Bytes())
			}
			if string(m.Raw) != raw || !m.Date.Equal(date) || sortedJoin(m.Flags) != sortedJoin(flags) {
				t.Fatalf("message %d: %q %q %s\nwant %q %q\nmbox %q", i, m.Raw, m.Flags, m.Date, raw, flags, out.Bytes())
			}
		}
		if _, err := src.Next(); err != io.EOF {
			t.Fatalf("after two messages: %v\nmbox %q", err, out.Bytes())
		}
	})
}

func sortedJoin(f []string) string {
	f = append([]string(nil), f...)
	sort.Strings(f)
	return strings.Join(f, " ")
}

// canonical reports whether raw is a message as the store keeps those it
// can round-trip through mbox: CRLF line ends only (a CR only before LF or
// inside a line), ending in CRLF, starting with a header field, with no
// mbox state field in its header, and no line that is only a CR.
func canonical(raw string) bool {
	if !strings.HasSuffix(raw, "\r\n") || len(raw) > 1<<16 {
		return false
	}
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	if lines[0] == "" {
		return false // no header
	}
	inHeader := true
	for i, l := range lines {
		if strings.ContainsRune(l, '\n') || strings.HasSuffix(l, "\r") || len(l) > 10000 {
			return false
		}
		if !inHeader {
			continue
		}
		if l == "" {
			inHeader = false
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if i == 0 {
				return false
			}
			continue
		}
		name, _, ok := strings.Cut(l, ":")
		if !ok || name == "" || isStateField(name) || strings.ContainsAny(name, " \t\x7f") || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r > '~' }) {
			return false
		}
	}
	return true
}
