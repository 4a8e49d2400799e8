package smtpclient

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want Reply
		err  bool
	}{
		{in: "250 OK\r\n", want: Reply{Code: 250, Text: "OK"}},
		{in: "250\r\n", want: Reply{Code: 250}},
		{in: "550 5.1.1 no such user\r\n", want: Reply{Code: 550, Enhanced: "5.1.1", Text: "no such user"}},
		{in: "250-sink.test hello\r\n250-PIPELINING\r\n250 SIZE 100\r\n", want: Reply{Code: 250, Text: "sink.test hello\nPIPELINING\nSIZE 100"}},
		{in: "451-4.7.1 greylisted\r\n451 4.7.1 come back later\r\n", want: Reply{Code: 451, Enhanced: "4.7.1", Text: "greylisted\ncome back later"}},
		// The class must match the code's: "2.0.0" in a 550 is text.
		{in: "550 2.0.0 odd\r\n", want: Reply{Code: 550, Text: "2.0.0 odd"}},
		{in: "556 5.1.10 null MX\r\n", want: Reply{Code: 556, Enhanced: "5.1.10", Text: "null MX"}},
		{in: "250 OK\n", want: Reply{Code: 250, Text: "OK"}}, // lenient about bare LF from servers
		{in: "250-a\r\n251 b\r\n", err: true},
		{in: "25O OK\r\n", err: true},
		{in: "600 what\r\n", err: true},
		{in: "250xOK\r\n", err: true},
		{in: "", err: true},
		{in: "250-unterminated\r\n", err: true},
		{in: "250 " + strings.Repeat("x", 5000) + "\r\n", err: true},
	} {
		got, err := readReply(bufio.NewReaderSize(strings.NewReader(tc.in), 4096))
		if tc.err {
			if err == nil {
				t.Errorf("readReply(%q) = %+v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("readReply(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestReplyClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		r               Reply
		pos, temp, perm bool
		status, str     string
	}{
		{Reply{Code: 250, Text: "ok"}, true, false, false, "2.0.0", "250 ok"},
		{Reply{Code: 451, Enhanced: "4.7.1", Text: "later"}, false, true, false, "4.7.1", "451 4.7.1 later"},
		{Reply{Code: 550, Text: "a\nb"}, false, false, true, "5.0.0", "550 a / b"},
	} {
		if tc.r.Positive() != tc.pos || tc.r.Temporary() != tc.temp || tc.r.Permanent() != tc.perm {
			t.Errorf("%+v: classes wrong", tc.r)
		}
		if tc.r.Status() != tc.status || tc.r.String() != tc.str {
			t.Errorf("%+v: Status %q String %q; want %q %q", tc.r, tc.r.Status(), tc.r.String(), tc.status, tc.str)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	f.Add("250-a\r\n250 b\r\n")
	f.Add("550 5.1.1 x\r\n")
	f.Add("2")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := readReply(bufio.NewReaderSize(strings.NewReader(in), 4096))
		if err == nil && (r.Code < 200 || r.Code > 599) {
			t.Fatalf("code %d accepted", r.Code)
		}
	})
}
