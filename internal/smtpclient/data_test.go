package smtpclient

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func wire(msg string) string {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	if err := writeData(w, []byte(msg)); err != nil {
		panic(err)
	}
	w.Flush()
	return b.String()
}

func TestWriteData(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\nb\r\n", "a\r\nb\r\n.\r\n"},
		{"a\r\nb", "a\r\nb\r\n.\r\n"},
		{".hidden\r\n", "..hidden\r\n.\r\n"},
		{"a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\nb\n", "a\r\nb\r\n.\r\n"},
		{"a\rb\r", "a\r\nb\r\n.\r\n"},
		// The smuggling payloads: a bare LF or CR around a dot must not end
		// the data early on any server.
		{"x\n.\r\nMAIL FROM:<evil>\r\n", "x\r\n..\r\nMAIL FROM:<evil>\r\n.\r\n"},
		{"x\r.\rMAIL FROM:<evil>\r\n", "x\r\n..\r\nMAIL FROM:<evil>\r\n.\r\n"},
		{"x\r\n.\nMAIL\r\n", "x\r\n..\r\nMAIL\r\n.\r\n"},
		{"...\r\n", "....\r\n.\r\n"},
	} {
		if got := wire(tc.in); got != tc.want {
			t.Errorf("writeData(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzWriteData checks the invariants: the end-of-data sequence appears only
// at the very end, every line ends in CRLF, and removing the dot-stuffing gives
// back the input with CRLF line endings.
func FuzzWriteData(f *testing.F) {
	f.Add("a\n.\r\nb")
	f.Add("\r\r\n.\n.")
	f.Add(".")
	f.Fuzz(func(t *testing.T, in string) {
		out := wire(in)
		if !strings.HasSuffix(out, "\r\n.\r\n") && out != ".\r\n" {
			t.Fatalf("no end of data: %q", out)
		}
		body := strings.TrimSuffix(out, ".\r\n")
		if strings.Contains(body, "\r\n.\r\n") || strings.HasPrefix(body, ".\r\n") {
			t.Fatalf("early end of data in %q", out)
		}
		if strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\r") || strings.Contains(strings.ReplaceAll(body, "\r\n", ""), "\n") {
			t.Fatalf("bare CR or LF in %q", out)
		}
		var lines []string
		for _, l := range strings.SplitAfter(body, "\r\n") {
			lines = append(lines, strings.TrimPrefix(l, "."))
		}
		norm := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\r", "\n"), "\n", "\r\n")
		if norm != "" && !strings.HasSuffix(norm, "\r\n") {
			norm += "\r\n"
		}
		if got := strings.Join(lines, ""); got != norm {
			t.Fatalf("unstuffed %q, want %q", got, norm)
		}
	})
}

func TestXtext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"abc":            "abc",
		"a+b=c":          "a+2Bb+3Dc",
		"sp ace":         "sp+20ace",
		"é":              "+C3+A9",
		"<id@host.test>": "<id@host.test>",
	} {
		if got := xtext(in); got != want {
			t.Errorf("xtext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWireAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		utf8OK   bool
		need     bool
		err      bool
	}{
		{in: "", want: ""},
		{in: "bob@example.org", want: "bob@example.org"},
		{in: "bob@bücher.example", want: "bob@xn--bcher-kva.example"},
		{in: "bob@bücher.example", utf8OK: true, want: "bob@bücher.example", need: true},
		{in: "jürgen@example.org", err: true},
		{in: "jürgen@example.org", utf8OK: true, want: "jürgen@example.org", need: true},
		{in: "bob@example.org> SIZE=1", err: true},
		{in: "bob@example.org\r\nRSET", err: true},
		{in: "bob", err: true},
		{in: "bob@", err: true},
	} {
		got, need, err := wireAddr(tc.in, tc.utf8OK)
		if tc.err {
			if err == nil {
				t.Errorf("wireAddr(%q) = %q, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want || need != tc.need {
			t.Errorf("wireAddr(%q, %v) = %q, %v, %v; want %q, %v", tc.in, tc.utf8OK, got, need, err, tc.want, tc.need)
		}
	}
}
