package pop3server

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// wireCases are messages whose bytes stress the RETR transformation.
var wireCases = []struct {
	name string
	raw  string
}{
	{"empty", ""},
	{"crlf", "Subject: a\r\n\r\nbody\r\n"},
	{"dots", "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmid.dle\r\n. \r\n...\r\n"},
	{"dot first line", ".Subject: odd\r\n\r\nx\r\n"},
	{"bare lf", "Subject: lf\n\nline one\nline two\n"},
	{"mixed", "Subject: mixed\r\n\nbare\ncrlf\r\n.dot-after-lf\n"},
	{"no final newline", "Subject: cut\r\n\r\nlast line"},
	{"no final newline dot", "Subject: cut\r\n\r\n.last"},
	{"bare cr", "Subject: cr\r\n\r\na\rb\r\n\r\r\n"},
	{"final bare cr", "Subject: cr\r\n\r\nend\r"},
	{"just dot", "."},
	{"just newline", "\n"},
	{"terminator inside", "Subject: t\r\n\r\nbefore\r\n.\r\nafter\r\n"},
	{"no header break", "Subject: only header\r\nX: y\r\n"},
	{"nul and 8bit", "Subject: \xe9\r\n\r\n\x00\xff\r\n"},
}

// stuffRef is the RFC 1939 3 reference: wireForm, then "." before each line
// that starts with ".".
func stuffRef(raw []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(wireForm(raw), []byte("\r\n")) {
		if len(l) > 0 && l[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, l...)
	}
	return out
}

func copyAll(t testing.TB, raw []byte, bufSize int, bodyLines int64) ([]byte, int64) {
	t.Helper()
	var out bytes.Buffer
	w := bufio.NewWriter(&out)
	n, err := copyBody(w, bufio.NewReaderSize(bytes.NewReader(raw), bufSize), bodyLines)
	if err != nil {
		t.Fatalf("copyBody: %v", err)
	}
	w.Flush()
	return out.Bytes(), n
}

func TestCopyBody(t *testing.T) {
	t.Parallel()
	for _, tc := range wireCases {
		for _, bufSize := range []int{16, 17, 4096} {
			t.Run(fmt.Sprintf("%s/%d", tc.name, bufSize), func(t *testing.T) {
				t.Parallel()
				raw := []byte(tc.raw)
				got, n := copyAll(t, raw, bufSize, -1)
				if want := stuffRef(raw); !bytes.Equal(got, want) {
					t.Errorf("copyBody(%q)\n got %q\nwant %q", raw, got, want)
				}
				if want := int64(len(wireForm(raw))); n != want {
					t.Errorf("copyBody count = %d, want %d", n, want)
				}
				size, err := wireSize(bytes.NewReader(raw), make([]byte, bufSize))
				if err != nil || size != n {
					t.Errorf("wireSize = %d, %v; copyBody sent %d", size, err, n)
				}
				if bytes.Contains(append([]byte("\r\n"), got...), []byte("\r\n.\r\n")) {
					t.Errorf("output contains the terminator: %q", got)
				}
			})
		}
	}
}

func TestCopyBodyTop(t *testing.T) {
	t.Parallel()
	raw := []byte("A: 1\r\nB: 2\n\r\nl1\r\n.l2\nl3\r\n")
	for n, want := range []string{
		"A: 1\r\nB: 2\r\n\r\n",
		"A: 1\r\nB: 2\r\n\r\nl1\r\n",
		"A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n",
		"A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n",
		"A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n",
	} {
		for _, bufSize := range []int{16, 4096} {
			if got, _ := copyAll(t, raw, bufSize, int64(n)); string(got) != want {
				t.Errorf("TOP %d (buffer %d) = %q, want %q", n, bufSize, got, want)
			}
		}
	}
	// A bare-LF blank line ends the header too.
	if got, _ := copyAll(t, []byte("A: 1\n\nbody\nmore\n"), 4096, 1); string(got) != "A: 1\r\n\r\nbody\r\n" {
		t.Errorf("TOP over bare LF = %q", got)
	}
}

func FuzzCopyBody(f *testing.F) {
	for _, tc := range wireCases {
		f.Add([]byte(tc.raw), uint8(0), int8(-1))
	}
	f.Add([]byte("a\r"), uint8(1), int8(2))
	f.Fuzz(func(t *testing.T, raw []byte, bufPick uint8, lines int8) {
		bufSize := 16 + int(bufPick)
		got, n := copyAll(t, raw, bufSize, -1)
		if want := stuffRef(raw); !bytes.Equal(got, want) {
			t.Fatalf("copyBody(%q) = %q, want %q", raw, got, want)
		}
		if int64(len(unstuff(got))) != n {
			t.Fatalf("count %d, un-stuffed output has %d octets", n, len(unstuff(got)))
		}
		size, err := wireSize(bytes.NewReader(raw), make([]byte, bufSize))
		if err != nil || size != n {
			t.Fatalf("wireSize = %d %v, copyBody %d", size, err, n)
		}
		if lines >= 0 {
			top, _ := copyAll(t, raw, bufSize, int64(lines))
			if !bytes.HasPrefix(got, top) {
				t.Fatalf("TOP %d output %q is not a prefix of RETR %q", lines, top, got)
			}
		}
	})
}

// TestRETRExactBytes checks, over the wire, that RETR delivers each stored
// message as RFC 1939 wants it, dot-stuffed, and that LIST's size is the
// number of octets delivered.
func TestRETRExactBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range wireCases {
		e.appendRaw([]byte(tc.raw)) // APPEND stores bytes as given: bare LF survives
	}
	c := e.login()
	c.ok("LIST")
	sizes := c.lines()
	for i, tc := range wireCases {
		raw := []byte(tc.raw)
		num := strconv.Itoa(i + 1)
		listed := sizeOf(t, sizes[i])
		c.ok("RETR " + num)
		onWire := c.raw()
		if want := stuffRef(raw); !bytes.Equal(onWire, want) {
			t.Errorf("%s: RETR sent %q, want %q", tc.name, onWire, want)
		}
		body := unstuff(onWire)
		if !bytes.Equal(body, wireForm(raw)) {
			t.Errorf("%s: un-stuffed RETR %q, want %q", tc.name, body, wireForm(raw))
		}
		if listed != len(body) {
			t.Errorf("%s: LIST says %d octets, RETR delivered %d", tc.name, listed, len(body))
		}
		if l := sizeOf(t, c.ok("LIST "+num)); l != listed {
			t.Errorf("%s: LIST %s = %d, LIST = %d", tc.name, num, l, listed)
		}
		if crlfClean(raw) && !bytes.Equal(body, raw) {
			t.Errorf("%s: a CRLF message did not go out byte for byte: %q", tc.name, body)
		}
	}
	c.ok("QUIT")
}

// crlfClean reports whether every LF has its CR and the message ends in CRLF
// (or is empty): what SMTP delivers.
func crlfClean(raw []byte) bool {
	return bytes.Count(raw, []byte("\n")) == bytes.Count(raw, []byte("\r\n")) &&
		(len(raw) == 0 || bytes.HasSuffix(raw, []byte("\r\n")))
}

// TestSizeWithoutLIST: a RETR before any LIST or STAT learns the size while
// streaming; a later LIST agrees.
func TestSizeWithoutLIST(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raw := []byte("Subject: lf\n\n.one\ntwo")
	e.appendRaw(raw)
	c := e.login()
	if r := c.ok("RETR 1"); r != "+OK message follows" {
		t.Errorf("first RETR = %q", r)
	}
	got := c.body()
	if r := c.ok("RETR 1"); r != fmt.Sprintf("+OK %d octets", len(got)) {
		t.Errorf("second RETR = %q, want %d octets", r, len(got))
	}
	c.body()
	if r := c.ok("LIST 1"); sizeOf(t, r) != len(got) {
		t.Errorf("LIST 1 = %q, RETR delivered %d", r, len(got))
	}
	c.ok("QUIT")
	// A new session learns it from the server's cache.
	c = e.login()
	if r := c.ok("RETR 1"); r != fmt.Sprintf("+OK %d octets", len(got)) {
		t.Errorf("RETR in a new session = %q", r)
	}
}

func TestLargeMessageStreams(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// 3 MB with a line far longer than any buffer, stored as a blob file.
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	b.WriteString(strings.Repeat("x", 1<<20))
	b.WriteString("\r\n")
	for i := range 20000 {
		fmt.Fprintf(&b, ".line %d with some text to make it longer than short\r\n", i)
	}
	raw := []byte(b.String())
	e.deliver(raw)
	c := e.login()
	if n := sizeOf(t, c.ok("LIST 1")); n != len(raw) {
		t.Errorf("LIST 1 = %d, want %d", n, len(raw))
	}
	c.ok("RETR 1")
	if got := c.body(); !bytes.Equal(got, raw) {
		t.Errorf("RETR of a large message differs (got %d octets, want %d)", len(got), len(raw))
	}
	c.ok("QUIT")
}
