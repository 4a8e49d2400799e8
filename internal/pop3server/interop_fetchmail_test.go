package pop3server

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fetchmailCorpus is n distinct CRLF messages with the content that trips POP3
// implementations: dot lines, long lines, a blank-line-rich body, larger sizes.
func fetchmailCorpus(n int) [][]byte {
	var out [][]byte
	for i := range n {
		var body strings.Builder
		fmt.Fprintf(&body, "Message number %d.\n", i)
		if i%3 == 0 {
			body.WriteString(".\n..\n.starts with a dot\n")
		}
		if i%5 == 0 {
			body.WriteString(strings.Repeat("long line ", 200) + "\n")
		}
		if i%7 == 0 {
			for j := range 400 {
				fmt.Fprintf(&body, "filler line %d of a larger message\n", j)
			}
		}
		body.WriteString("\nregards\n")
		out = append(out, msg(fmt.Sprintf("fetchmail %03d", i), body.String()))
	}
	return out
}

// messageID returns the Message-ID header value of raw.
func messageID(raw []byte) string {
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "Message-ID: "); ok {
			return v
		}
		if strings.TrimRight(l, "\r") == "" {
			break
		}
	}
	return ""
}

// stripFetchmailReceived removes the Received field fetchmail puts first
// (with its continuation lines).
func stripFetchmailReceived(t *testing.T, got []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(got, []byte("Received: ")) {
		t.Fatalf("fetchmail output does not start with its Received field: %q", got[:min(len(got), 200)])
	}
	rest := got
	for {
		i := bytes.Index(rest, []byte("\n"))
		rest = rest[i+1:]
		if len(rest) == 0 || (rest[0] != ' ' && rest[0] != '\t') {
			return rest
		}
	}
}

func TestFetchmail(t *testing.T) {
	t.Parallel()
	fetchmail := needTool(t, "fetchmail", "fetchmail")
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			t.Parallel()
			// As in production: credentials only after STLS (fetchmail's default
			// is to require it when offered).
			e := newEnv(t, withTLS(), noDev())
			corpus := fetchmailCorpus(200)
			byID := map[string][]byte{}
			for _, raw := range corpus {
				e.deliver(raw)
				byID[messageID(raw)] = raw
			}
			if len(byID) != len(corpus) {
				t.Fatalf("corpus has duplicate Message-IDs")
			}

			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			mda := filepath.Join(dir, "mda.sh")
			// One file per message, so that each can be compared on its own.
			script := "#!/bin/sh\nexec cat > \"$(mktemp " + out + "/msg.XXXXXXXX)\"\n"
			if err := os.WriteFile(mda, []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			host, port, _ := strings.Cut(e.addr, ":")
			keepOpt := "nokeep"
			if keep {
				keepOpt = "keep"
			}
			rc := fmt.Sprintf(`set no syslog
poll %s with proto POP3 port %s timeout 30
  user "%s" there with password "%s" is "root" here
  options %s fetchall no stripcr no sslcertck
  mda "%s"
`, host, port, alice, alicePw, keepOpt, mda)
			rcfile := filepath.Join(dir, "fetchmailrc")
			if err := os.WriteFile(rcfile, []byte(rc), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(t.Context(), fetchmail, "--fetchmailrc", rcfile,
				"--idfile", filepath.Join(dir, "ids"), "--pidfile", filepath.Join(dir, "pid"),
				"--nodetach", "--verbose")
			cmd.Env = append(os.Environ(), "HOME="+dir)
			log, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("fetchmail: %v\n%s", err, log)
			}

			files, err := filepath.Glob(filepath.Join(out, "msg.*"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(corpus) {
				t.Fatalf("fetchmail delivered %d messages, want %d\n%s", len(files), len(corpus), log)
			}
			seen := map[string]bool{}
			for _, f := range files {
				got, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				got = stripFetchmailReceived(t, got)
				id := messageID(got)
				want, ok := byID[id]
				if !ok || seen[id] {
					t.Errorf("%s: unknown or repeated Message-ID %q", f, id)
					continue
				}
				seen[id] = true
				if !bytes.Equal(got, want) {
					t.Errorf("message %s: fetchmail delivered %d octets that differ from the %d sent:\n got %q\nwant %q",
						id, len(got), len(want), got[:min(len(got), 300)], want[:min(len(want), 300)])
				}
			}
			left := len(e.inboxUIDs())
			if keep && left != len(corpus) {
				t.Errorf("with keep the INBOX has %d messages, want %d", left, len(corpus))
			}
			if !keep && left != 0 {
				t.Errorf("without keep the INBOX has %d messages, want 0", left)
			}
		})
	}
}
