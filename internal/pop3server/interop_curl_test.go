package pop3server

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

func runCurl(t *testing.T, args ...string) []byte {
	t.Helper()
	curl := needTool(t, "curl", "curl")
	cmd := exec.CommandContext(t.Context(), curl, append([]string{"--silent", "--show-error", "--max-time", "30"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func TestCurl(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"plain", "stls"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var opts []envOpt
			var tlsArgs []string
			if mode == "stls" {
				opts = []envOpt{withTLS(), noDev()}
				tlsArgs = []string{"--ssl-reqd", "--insecure"}
			}
			e := newEnv(t, opts...)
			raws := [][]byte{msg("one", "first\n.dot\n"), msg("two", "second\n")}
			for _, r := range raws {
				e.deliver(r)
			}
			base := "pop3://" + e.addr + "/"
			user := []string{"--user", alice + ":" + alicePw}

			// No message number: curl sends LIST.
			list := runCurl(t, append(append(tlsArgs, user...), base)...)
			want := fmt.Sprintf("1 %d\r\n2 %d\r\n", len(raws[0]), len(raws[1]))
			if string(list) != want {
				t.Errorf("curl LIST = %q, want %q", list, want)
			}
			// A message number: curl sends RETR and un-stuffs.
			for i, r := range raws {
				got := runCurl(t, append(append(tlsArgs, user...), fmt.Sprintf("%s%d", base, i+1))...)
				if !bytes.Equal(got, r) {
					t.Errorf("curl RETR %d = %q, want %q", i+1, got, r)
				}
			}
			// A custom request: UIDL.
			uidl := runCurl(t, append(append(tlsArgs, user...), "--request", "UIDL", base)...)
			if n := strings.Count(string(uidl), "\r\n"); n != 2 {
				t.Errorf("curl UIDL = %q, want 2 lines", uidl)
			}
			// AUTH LOGIN instead of the PLAIN curl prefers.
			got := runCurl(t, append(append(tlsArgs, user...), "--login-options", "AUTH=LOGIN", base+"2")...)
			if !bytes.Equal(got, raws[1]) {
				t.Errorf("curl RETR with AUTH=LOGIN = %q", got)
			}
			// curl prefers SASL when CAPA offers it.
			logs := e.logs.String()
			for _, m := range []string{"method=PLAIN", "method=LOGIN"} {
				if !strings.Contains(logs, m) {
					t.Errorf("no curl login with %s in the log", m)
				}
			}
			if n := len(e.inboxUIDs()); n != 2 {
				t.Errorf("INBOX has %d messages after curl, want 2", n)
			}
		})
	}
}
