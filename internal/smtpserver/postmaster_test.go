package smtpserver

import (
	"fmt"
	"strings"
	"testing"
)

// TestBarePostmaster: RCPT TO:<Postmaster> with no domain is accepted (RFC
// 5321 4.1.1.3, 4.5.1) and reaches the postmaster (here the oldest account,
// alice), while the same text inside a message, sent with DATA or in a BDAT
// chunk, is stored exactly as sent.
func TestBarePostmaster(t *testing.T) {
	t.Parallel()
	e := newEnv(t, MX)
	w := e.dial()
	w.ehlo()
	line := "RCPT TO:<postmaster>\r\n"
	body := "Subject: data\r\n\r\n" + line + "rcpt to:<Postmaster> NOTIFY=NEVER\r\n"
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("RCPT TO:<Postmaster>", 250, "")
	w.cmd("RCPT TO: <postmaster> NOTIFY=FAILURE", 250, "")
	w.cmd("DATA", 354, "")
	w.write(body + ".\r\n")
	w.expect(250, "2.0.0")

	// BDAT: the first chunk is exactly the command text, so it starts where
	// a command would.
	chunk2 := "\r\nSubject: bdat\r\n\r\nx\r\n"
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("rcpt to:<POSTMASTER>", 250, "")
	w.write(fmt.Sprintf("BDAT %d\r\n%s", len(line), line))
	w.expect(250, "")
	w.write(fmt.Sprintf("BDAT %d LAST\r\n%s", len(chunk2), chunk2))
	w.expect(250, "2.0.0")

	// Other paths without a domain are still refused.
	w.cmd("MAIL FROM:<someone@remote.example>", 250, "")
	w.cmd("RCPT TO:<postmasterx>", 501, "")
	w.cmd("RCPT TO:<abuse>", 501, "")

	msgs := e.inbox(e.alice)
	if len(msgs) != 2 {
		t.Fatalf("alice has %d messages, want 2", len(msgs))
	}
	raw := e.raw(msgs[0])
	if !strings.HasSuffix(raw, "\r\n\r\n"+line+"rcpt to:<Postmaster> NOTIFY=NEVER\r\n") {
		t.Errorf("DATA message altered: %q", raw)
	}
	if raw := e.raw(msgs[1]); !strings.HasSuffix(raw, "\r\n"+line+chunk2) {
		t.Errorf("BDAT message altered: %q", raw)
	}
}

// TestPMFilter drives the filter directly over awkward read boundaries.
func TestPMFilter(t *testing.T) {
	dom := func() string { return "example.org" }
	for _, tt := range []struct {
		name  string
		reads []string
		busy  []bool
		want  string
	}{
		{"plain", []string{"RCPT TO:<postmaster>\r\n"}, nil, "RCPT TO:<postmaster@example.org>\r\n"},
		{"params", []string{"MAIL FROM:<a@b>\r\nRCPT TO:<PostMaster> NOTIFY=NEVER\r\n"}, nil,
			"MAIL FROM:<a@b>\r\nRCPT TO:<PostMaster@example.org> NOTIFY=NEVER\r\n"},
		{"bare LF", []string{"rcpt to:<postmaster>\n"}, nil, "rcpt to:<postmaster@example.org>\n"},
		{"with domain", []string{"RCPT TO:<postmaster@x.example>\r\n"}, nil, "RCPT TO:<postmaster@x.example>\r\n"},
		{"not at line start", []string{"RCPT TO:<a@b> ", "RCPT TO:<postmaster>\r\n"}, nil, "RCPT TO:<a@b> RCPT TO:<postmaster>\r\n"},
		{"split line", []string{"RCPT TO:<post", "master>\r\n"}, nil, "RCPT TO:<postmaster>\r\n"},
		{"in DATA", []string{"RCPT TO:<postmaster>\r\n"}, []bool{true}, "RCPT TO:<postmaster>\r\n"},
		{"after DATA, same read", []string{"DATA\r\nRCPT TO:<postmaster>\r\n"}, nil, "DATA\r\nRCPT TO:<postmaster>\r\n"},
		{"after DATA ended", []string{"x\r\n.\r\n", "RCPT TO:<postmaster>\r\n"}, []bool{true, false},
			"x\r\n.\r\nRCPT TO:<postmaster@example.org>\r\n"},
		{"BDAT chunk over reads", []string{"BDAT 30\r\nRCPT TO:<pos", "tmaster>\r\nRCPT TO:<post", "master>\r\nRCPT TO:<postmaster>\r\n"}, nil,
			"BDAT 30\r\nRCPT TO:<postmaster>\r\nRCPT TO:<postmaster>\r\nRCPT TO:<postmaster@example.org>\r\n"},
		{"BDAT line split", []string{"BDA", "T 22\r\nRCPT TO:<postmaster>\r\n"}, nil, "BDAT 22\r\nRCPT TO:<postmaster>\r\n"},
		{"after STARTTLS", []string{"STARTTLS\r\n", "RCPT TO:<postmaster>\r\n"}, nil, "STARTTLS\r\nRCPT TO:<postmaster>\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newPMFilter(dom)
			var got strings.Builder
			for i, r := range tt.reads {
				busy := i < len(tt.busy) && tt.busy[i]
				got.Write(f.filter([]byte(r), busy))
			}
			if got.String() != tt.want {
				t.Errorf("got %q, want %q", got.String(), tt.want)
			}
		})
	}
}

// FuzzPMFilter: whatever arrives, in whatever pieces, the filter only ever
// inserts "@domain", and only right after a "<postmaster".
func FuzzPMFilter(f *testing.F) {
	f.Add([]byte("RCPT TO:<postmaster>\r\nBDAT 5\r\nRCPT TO:<postmaster>\r\n"), uint8(7), false)
	f.Add([]byte("DATA\r\nRCPT TO:<postmaster>\r\n.\r\nrcpt to:<POSTMASTER> x\n"), uint8(3), true)
	f.Add([]byte("BDAT x\r\nRCPT TO:<postmaster>\r\n"), uint8(0), false)
	f.Fuzz(func(t *testing.T, in []byte, cut uint8, busy bool) {
		const dom = "zz.invalid"
		if strings.Contains(string(in), dom) {
			return
		}
		f := newPMFilter(func() string { return dom })
		k := min(int(cut), len(in))
		out := string(f.filter(append([]byte(nil), in[:k]...), busy))
		out += string(f.filter(append([]byte(nil), in[k:]...), false))
		if strings.ReplaceAll(out, "@"+dom, "") != string(in) {
			t.Fatalf("filter changed more than the domain: %q -> %q", in, out)
		}
		for i := strings.Index(out, "@"+dom); i >= 0; {
			if !strings.HasSuffix(strings.ToLower(out[:i]), "<postmaster") {
				t.Fatalf("domain inserted after %q", out[:i])
			}
			j := strings.Index(out[i+1:], "@"+dom)
			if j < 0 {
				break
			}
			i += 1 + j
		}
	})
}
