package mailimport_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailimport"
)

// result is what a source yielded, in order: messages and skips.
type result struct {
	msgs  []*mailimport.Message
	skips []*mailimport.SkipError
	order []string // "m" or the skip reason, in order
}

func readAll(t *testing.T, src mailimport.Source) result {
	t.Helper()
	var r result
	for i := 0; i < 100000; i++ {
		m, err := src.Next()
		var skip *mailimport.SkipError
		switch {
		case err == io.EOF:
			return r
		case errors.As(err, &skip):
			r.skips = append(r.skips, skip)
			r.order = append(r.order, skip.Reason)
		case err != nil:
			t.Fatalf("Next: %v", err)
		default:
			r.msgs = append(r.msgs, m)
			r.order = append(r.order, "m")
		}
	}
	t.Fatal("source never ends")
	return r
}

// mboxFile writes content to a real file in t.TempDir() and reads it back.
func readMboxFile(t *testing.T, content string, f mailimport.Format, lim mailimport.Limits) result {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mail.mbox")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	return readAll(t, mailimport.NewMbox(fh, p, f, lim))
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func wantMsg(t *testing.T, m *mailimport.Message, raw string, flags []string, date time.Time) {
	t.Helper()
	if string(m.Raw) != crlf(raw) {
		t.Errorf("message at %s:\n got %q\nwant %q", m.Pos, m.Raw, crlf(raw))
	}
	if !reflect.DeepEqual(m.Flags, flags) && !(len(m.Flags) == 0 && len(flags) == 0) {
		t.Errorf("message at %s: flags %q, want %q", m.Pos, m.Flags, flags)
	}
	if !m.Date.Equal(date) {
		t.Errorf("message at %s: date %v, want %v", m.Pos, m.Date, date)
	}
}

// A mutt-style file: Status/X-Status flags, quoted From lines, a "From "
// line in a body that is not a separator (no empty line before it, no date).
const muttMbox = `From alice@example.org Mon Jan  1 10:00:00 2024
From: alice@example.org
Subject: one
Status: RO
X-Status: AF
X-Keywords: work $Label1

>From the start
>>From quoted twice
From here on, no separator
the end

From bob@example.org Tue Jan  2 11:00:00 2024
Subject: two
Date: Wed, 03 Jan 2024 00:00:00 +0000
Status: O

body
`

func TestMboxrdAndMboxoUnescape(t *testing.T) {
	t.Parallel()
	d1 := time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)
	d2 := time.Date(2024, 1, 2, 11, 0, 0, 0, time.UTC)
	head := "From: alice@example.org\nSubject: one\n\n"
	tail := "From here on, no separator\nthe end\n"
	flags := []string{`\Seen`, `\Answered`, `\Flagged`, "work", "$Label1"}

	rd := readMboxFile(t, muttMbox, mailimport.Mboxrd, mailimport.Limits{})
	if len(rd.msgs) != 2 || len(rd.skips) != 0 {
		t.Fatalf("mboxrd: %d messages, skips %v", len(rd.msgs), rd.skips)
	}
	wantMsg(t, rd.msgs[0], head+"From the start\n>From quoted twice\n"+tail, flags, d1)
	wantMsg(t, rd.msgs[1], "Subject: two\nDate: Wed, 03 Jan 2024 00:00:00 +0000\n\nbody\n", nil, d2)
	if rd.msgs[1].Pos.Offset != int64(strings.Index(muttMbox, "From bob")) {
		t.Errorf("second message at %d", rd.msgs[1].Pos.Offset)
	}

	o := readMboxFile(t, muttMbox, mailimport.Mboxo, mailimport.Limits{})
	if len(o.msgs) != 2 {
		t.Fatalf("mboxo: %d messages", len(o.msgs))
	}
	wantMsg(t, o.msgs[0], head+"From the start\n>>From quoted twice\n"+tail, flags, d1)

	// mboxcl2 quotes nothing: the ">" stay.
	cl2 := readMboxFile(t, muttMbox, mailimport.Mboxcl2, mailimport.Limits{})
	wantMsg(t, cl2.msgs[0], head+">From the start\n>>From quoted twice\n"+tail, flags, d1)
}

// Content-Length frames a body with a "From " line after an empty line,
// which the From_ rule would take for a separator.
func TestMboxclContentLength(t *testing.T) {
	t.Parallel()
	body := "first line\n\nFrom mallory@example.org Mon Jan  1 10:00:00 2024\nnot a new message\n"
	file := "From a@example.org Sat Feb  3 04:05:06 2024\nSubject: framed\nContent-Length: " +
		fmt.Sprint(len(body)) + "\nLines: 4\n\n" + body +
		"\nFrom b@example.org Sat Feb  3 04:05:07 2024\nSubject: next\nContent-Length: 6\n\nhello\n" +
		// A wrong Content-Length (too short) is ignored; the From_ rule ends the message.
		"\nFrom c@example.org Sat Feb  3 04:05:08 2024\nSubject: wrong length\nContent-Length: 3\n\nline one\nline two\n" +
		"\nFrom d@example.org Sat Feb  3 04:05:09 2024\nSubject: last\nContent-Length: 3\n\n>Fr"
	d := func(s int) time.Time { return time.Date(2024, 2, 3, 4, 5, s, 0, time.UTC) }
	for _, f := range []mailimport.Format{mailimport.Mboxcl2, mailimport.Mboxcl} {
		r := readMboxFile(t, file, f, mailimport.Limits{})
		if len(r.msgs) != 4 {
			t.Fatalf("%v: %d messages, skips %v", f, len(r.msgs), r.skips)
		}
		wantMsg(t, r.msgs[0], "Subject: framed\nLines: 4\n\n"+body, nil, d(6))
		wantMsg(t, r.msgs[1], "Subject: next\n\nhello\n", nil, d(7))
		wantMsg(t, r.msgs[2], "Subject: wrong length\n\nline one\nline two\n", nil, d(8))
		if string(r.msgs[3].Raw) != "Subject: last\r\n\r\n>Fr" {
			t.Errorf("%v: last: %q", f, r.msgs[3].Raw)
		}
	}
	// Read as mboxrd the same file splits at the From line in the body,
	// the piece after it has no header, and the last message, which ends
	// inside a line with nothing to frame it, is truncated.
	r := readMboxFile(t, file, mailimport.Mboxrd, mailimport.Limits{})
	if want := []string{"m", mailimport.ReasonNoHeader, "m", "m", mailimport.ReasonTruncated}; !reflect.DeepEqual(r.order, want) {
		t.Fatalf("mboxrd: %v, want %v", r.order, want)
	}
}

// Thunderbird: "From - " lines, X-Mozilla-* state, CRLF, an expunged
// message awaiting compaction.
func TestMboxThunderbird(t *testing.T) {
	t.Parallel()
	file := crlf("From - Mon Mar  4 05:06:07 2024\n" +
		"X-Mozilla-Status: 1005\nX-Mozilla-Status2: 02000000\nX-Mozilla-Keys: work junk                         \n" +
		"Subject: tb one\n\nhi\n\n" +
		"From - Mon Mar  4 05:06:08 2024\nX-Mozilla-Status: 0009\nX-Mozilla-Status2: 00000000\nSubject: gone\n\nx\n\n" +
		"From - Mon Mar  4 05:06:09 2024\nX-Mozilla-Status: 0000\nX-Mozilla-Status2: 00210000\nSubject: tb three\n\nyo\n")
	r := readMboxFile(t, file, mailimport.Mboxrd, mailimport.Limits{})
	if !reflect.DeepEqual(r.order, []string{"m", mailimport.ReasonDeleted, "m"}) {
		t.Fatalf("order %v (skips %v)", r.order, r.skips)
	}
	d := func(s int) time.Time { return time.Date(2024, 3, 4, 5, 6, s, 0, time.UTC) }
	wantMsg(t, r.msgs[0], "Subject: tb one\n\nhi\n", []string{`\Seen`, `\Flagged`, "$Forwarded", "$label1", "work", "$Junk"}, d(7))
	wantMsg(t, r.msgs[1], "Subject: tb three\n\nyo\n", []string{`\Deleted`}, d(9))
	if want := int64(strings.Index(file, "From - Mon Mar  4 05:06:08")); r.skips[0].Pos.Offset != want {
		t.Errorf("expunged message reported at %d, want %d", r.skips[0].Pos.Offset, want)
	}
}

// Bad input: each bad message is reported with its offset and skipped,
// and the messages around it are read.
func TestMboxBadInput(t *testing.T) {
	t.Parallel()
	good := func(n int) string {
		return fmt.Sprintf("From x@example.org Mon Jan  1 00:00:%02d 2024\nSubject: good %d\n\nbody %d\n\n", n, n, n)
	}
	parts := []string{
		"garbage before the first message\n\n",
		good(1),
		"From x@example.org Mon Jan  1 00:01:00 2024\n\nbody without a header\n\n",
		good(2),
		"From x@example.org Mon Jan  1 00:02:00 2024\nSubject: big\n\n" + strings.Repeat("0123456789abcdef\n", 200) + "\n",
		good(3),
		"From x@example.org Mon Jan  1 00:03:00 2024\nSubject: long line\n\n" + strings.Repeat("y", 3000) + "\n\n",
		good(4),
		"From x@example.org Mon Jan  1 00:04:00 2024\n\n",
		good(5),
		"From x@example.org Mon Jan  1 00:05:00 2024\nSubject: cut in the hea",
	}
	// A file cut in a body line: that message is truncated too.
	cut := good(6) + "From x@example.org Mon Jan  1 00:06:00 2024\nSubject: cut in the body\n\nsome text and th"
	if r := readMboxFile(t, cut, mailimport.Mboxrd, mailimport.Limits{}); !reflect.DeepEqual(r.order, []string{"m", mailimport.ReasonTruncated}) ||
		r.skips[0].Pos.Offset != int64(len(good(6))) {
		t.Errorf("file cut in a body line: %v %v", r.order, r.skips)
	}
	file := strings.Join(parts, "")
	r := readMboxFile(t, file, mailimport.Mboxrd, mailimport.Limits{MaxSize: 2000, MaxLine: 1000})
	want := []string{mailimport.ReasonGarbage, "m", mailimport.ReasonNoHeader, "m", mailimport.ReasonTooLarge, "m",
		mailimport.ReasonLongLine, "m", mailimport.ReasonEmpty, "m", mailimport.ReasonTruncated}
	if !reflect.DeepEqual(r.order, want) {
		t.Fatalf("order %v, want %v (skips %v)", r.order, want, r.skips)
	}
	for i, m := range r.msgs {
		if !strings.Contains(string(m.Raw), fmt.Sprintf("Subject: good %d\r\n", i+1)) {
			t.Errorf("message %d: %q", i, m.Raw)
		}
	}
	offsets := []int64{0}
	for i := 2; i < len(parts); i += 2 {
		offsets = append(offsets, int64(len(strings.Join(parts[:i], ""))))
	}
	for i, s := range r.skips {
		if s.Pos.Offset != offsets[i] {
			t.Errorf("skip %d (%v) at offset %d, want %d", i, s, s.Pos.Offset, offsets[i])
		}
		if !strings.Contains(s.Error(), fmt.Sprintf("offset %d", offsets[i])) {
			t.Errorf("skip report %q does not name its offset", s.Error())
		}
	}
}

// repeatReader yields n copies of b's bytes without holding them.
type repeatReader struct {
	b   []byte
	off int
	n   int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := 0
	for k < len(p) && r.n > 0 {
		c := copy(p[k:], r.b[r.off:])
		if int64(c) > r.n {
			c = int(r.n)
		}
		k += c
		r.n -= int64(c)
		r.off = (r.off + c) % len(r.b)
	}
	return k, nil
}

// peakHeap samples the live heap while a source is read.
func peakHeap(t *testing.T, src mailimport.Source, every int) (msgs int, skips []*mailimport.SkipError, peak uint64) {
	t.Helper()
	var ms runtime.MemStats
	runtime.GC()
	for i := 0; ; i++ {
		m, err := src.Next()
		var skip *mailimport.SkipError
		switch {
		case err == io.EOF:
			return msgs, skips, peak
		case errors.As(err, &skip):
			skips = append(skips, skip)
		case err != nil:
			t.Fatal(err)
		default:
			msgs++
			_ = m
		}
		if i%every == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
}

// A 100 MB line is skipped with its message, in bounded memory, and the
// next message is read.
func TestMboxHugeLine(t *testing.T) {
	// Not parallel: the heap sampled is the whole process's, and another
	// test's allocations would count.
	const lineLen = 100 << 20
	head := "From a@example.org Mon Jan  1 00:00:00 2024\nSubject: huge\n\n"
	tail := "\n\nFrom b@example.org Mon Jan  1 00:00:01 2024\nSubject: after\n\nok\n"
	r := io.MultiReader(strings.NewReader(head), &repeatReader{b: []byte(strings.Repeat("z", 64<<10)), n: lineLen}, strings.NewReader(tail))
	src := mailimport.NewMbox(r, "huge.mbox", mailimport.Mboxrd, mailimport.Limits{})
	msgs, skips, peak := peakHeap(t, src, 1)
	if msgs != 1 || len(skips) != 1 || skips[0].Reason != mailimport.ReasonLongLine || skips[0].Pos.Offset != 0 {
		t.Fatalf("%d messages, skips %v", msgs, skips)
	}
	if peak > 16<<20 {
		t.Fatalf("peak heap %d MB reading a 100 MB line", peak>>20)
	}
	t.Logf("100 MB line: peak heap %.1f MB", float64(peak)/(1<<20))
}

// A 200 MB mbox generated on the fly streams with a heap bounded by the
// largest message, not the file.
func TestMboxBoundedMemory(t *testing.T) {
	// Not parallel: see TestMboxHugeLine.
	msg := "From gen@example.org Mon Jan  1 00:00:00 2024\nFrom: gen@example.org\nSubject: generated\n\n" +
		strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n", 120) +
		">From quoted\n\n"
	const total = 200 << 20
	n := int64(total / len(msg))
	src := mailimport.NewMbox(&repeatReader{b: []byte(msg), n: n * int64(len(msg))}, "gen.mbox", mailimport.Mboxrd, mailimport.Limits{})
	msgs, skips, peak := peakHeap(t, src, 500)
	if int64(msgs) != n || len(skips) != 0 {
		t.Fatalf("%d messages (want %d), skips %v", msgs, n, skips)
	}
	if src.Offset() != n*int64(len(msg)) {
		t.Fatalf("offset %d, want %d", src.Offset(), n*int64(len(msg)))
	}
	if peak > 24<<20 {
		t.Fatalf("peak heap %d MB for a 200 MB stream", peak>>20)
	}
	t.Logf("%d messages, %d MB streamed, peak heap %.1f MB", msgs, total>>20, float64(peak)/(1<<20))
}

func TestFromLineDates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		line string
		want time.Time
	}{
		{"From a@b Sat Jan  3 01:05:34 1996", time.Date(1996, 1, 3, 1, 5, 34, 0, time.UTC)},
		{"From a@b Sat Jan 3 01:05:34 1996 +0100", time.Date(1996, 1, 3, 0, 5, 34, 0, time.UTC)},
		{"From a@b Sat Jan 3 01:05:34 +0100 1996", time.Date(1996, 1, 3, 0, 5, 34, 0, time.UTC)},
		{"From a@b Sat Jan 3 01:05 1996", time.Date(1996, 1, 3, 1, 5, 0, 0, time.UTC)},
		{"From a@b Sat Jan 3 01:05:34 1996 remote from uucp", time.Date(1996, 1, 3, 1, 5, 34, 0, time.UTC)},
		{"From \"a b\"@c Sat Jan  3 01:05:34 1996", time.Date(1996, 1, 3, 1, 5, 34, 0, time.UTC)},
		{"From a@b", time.Time{}}, // no date: the Date: field is taken
	} {
		r := readMboxFile(t, c.line+"\nDate: Mon, 1 Jan 2001 00:00:00 +0000\n\nx\n", mailimport.Mboxrd, mailimport.Limits{})
		want := c.want
		if want.IsZero() {
			want = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		if len(r.msgs) != 1 || !r.msgs[0].Date.Equal(want) {
			t.Errorf("%q: %v", c.line, r.order)
			if len(r.msgs) == 1 {
				t.Errorf("  date %v, want %v", r.msgs[0].Date, want)
			}
		}
	}
}

func TestMboxFolder(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/home/u/Mail/Sent.mbox": "Sent", "Inbox": "INBOX", "x/inbox.MBOX": "INBOX", "mbox": "INBOX",
		"Work.2024": "Work.2024", "Drafts": "Drafts",
	} {
		if got := mailimport.MboxFolder(in); got != want {
			t.Errorf("MboxFolder(%q) = %q, want %q", in, got, want)
		}
	}
}

// A wrong Content-Length (too large: past the end of the file, or into
// the next message) costs only its own message's framing: the messages it
// covered are read again, with their offsets, and their own Content-Length
// still frames a "From " line in their bodies.
func TestMboxclWrongContentLength(t *testing.T) {
	t.Parallel()
	msg := func(nl, from, subject, body string, cl int) string {
		body = strings.ReplaceAll(body, "\n", nl)
		if cl < 0 {
			cl = len(body)
		}
		return strings.ReplaceAll(fmt.Sprintf("From %s Mon Jan  1 00:00:00 2024\nSubject: %s\nContent-Length: %d\n\n", from, subject, cl), "\n", nl) + body + nl
	}
	body2 := "line\n\nFrom inside@example.org Mon Jan  1 00:00:00 2024\nstill two\n"
	for _, c := range []struct {
		name string
		cl1  int
	}{{"past the end", 5000}, {"into the next", 30}} {
		for _, nl := range []string{"\n", "\r\n"} {
			m1 := msg(nl, "a@example.org", "one", "short body\n", c.cl1)
			m2 := msg(nl, "b@example.org", "two", body2, -1)
			m3 := msg(nl, "c@example.org", "three", "bye\n", -1)
			file := m1 + m2 + m3
			r := readMboxFile(t, file, mailimport.Mboxcl2, mailimport.Limits{})
			if len(r.msgs) != 3 || len(r.skips) != 0 {
				t.Fatalf("%s %q: %v %v", c.name, nl, r.order, r.skips)
			}
			t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			wantMsg(t, r.msgs[0], "Subject: one\n\nshort body\n", nil, t0)
			wantMsg(t, r.msgs[1], "Subject: two\n\n"+body2, nil, t0)
			wantMsg(t, r.msgs[2], "Subject: three\n\nbye\n", nil, t0)
			for i, want := range []int{0, len(m1), len(m1) + len(m2)} {
				if r.msgs[i].Pos.Offset != int64(want) {
					t.Errorf("%s %q: message %d at offset %d, want %d", c.name, nl, i+1, r.msgs[i].Pos.Offset, want)
				}
			}
		}
	}
}

// A Thunderbird profile's Local Folders: mbox files, .msf indexes, ".sbd"
// subfolder directories; mutt's plain mbox files.
func TestMboxTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	msg := "From - Mon Jan  1 00:00:00 2024\nSubject: x\n\nx\n"
	for _, f := range []struct{ path, content string }{
		{"Inbox", msg}, {"Inbox.msf", "// <!-- <mdb:mork:z v=\"1.4\"/> -->"}, {"Sent", msg},
		{"Work", msg}, {"Work.sbd/2024", msg}, {"Work.sbd/2024.sbd/Q1", msg}, {"Work.sbd/2024.msf", "x"},
		{"Trash", ""}, {"popstate.dat", "# POP3 State File"},
	} {
		p := filepath.Join(dir, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	files, err := mailimport.MboxTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Folder)
	}
	if want := []string{"INBOX", "Sent", "Work", "Work/2024", "Work/2024/Q1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("folders %q, want %q", got, want)
	}
	if _, err := mailimport.MboxTree(filepath.Join(dir, "nope")); err == nil {
		t.Fatal("a missing directory lists")
	}
}
