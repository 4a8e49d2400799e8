package packaging

import (
	"encoding/json"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// The release binary reports the version and revision it was stamped with.
func TestVersion(t *testing.T) {
	t.Parallel()
	a := built(t)
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(a.bin, arg).CombinedOutput()
		if err != nil {
			t.Fatalf("gannet %s: %v\n%s", arg, err, out)
		}
		for _, want := range []string{"gannet " + testVersion + "\n", "revision: " + testRevision + "\n", "modified: false\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("gannet %s printed %q, without %q", arg, out, want)
			}
		}
	}
}

// userDir makes a directory the test's unprivileged users can traverse,
// and returns it with a data directory path inside (not yet created).
func userDir(t *testing.T) (dir, data string) {
	t.Helper()
	dir = t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "data")
}

// testConfig writes a dev-mode config (loopback, plaintext AUTH allowed on
// loopback, no DNS checks) with SMTP and submission on ephemeral ports.
func testConfig(t *testing.T, dir, data, extra string) string {
	t.Helper()
	conf := filepath.Join(dir, "gannet.toml")
	content := fmt.Sprintf(`hostname = "localhost"
dev = true
data_dir = %q
domains = ["example.test"]
%s
[listeners]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
admin = ""
`, data, extra)
	if err := os.WriteFile(conf, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: starts gannet as root to see it switch users (CI runs as root)")
	}
}

// sendMail delivers one message to rcpt over SMTP on addr, as a real
// client does.
func sendMail(t *testing.T, addr, from, rcpt string) {
	t.Helper()
	msg := "From: " + from + "\r\nTo: " + rcpt + "\r\nSubject: packaging test\r\n\r\nhello\r\n"
	if err := smtp.SendMail(addr, nil, from, []string{rcpt}, []byte(msg)); err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
}

// authLogin tries AUTH PLAIN on the submission port and reports whether it
// was accepted.
func authLogin(t *testing.T, addr, user, pw string) bool {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	err = c.Auth(smtp.PlainAuth("", user, pw, "127.0.0.1"))
	c.Quit()
	return err == nil
}

// Started as root with user set, gannet binds, then runs as that user (all
// ids and groups), creates its files as that user, and logs JSON lines with
// the fields README.md promises. An admin command with --config switches
// too, so the account it adds is readable by the server.
func TestRootSwitchesUser(t *testing.T) {
	needRoot(t)
	t.Parallel()
	a := built(t)
	dir, data := userDir(t)
	conf := testConfig(t, dir, data, "user = \"nobody\"\nlog_format = \"json\"\nlog_level = \"debug\"\n")
	srv, addrs := start(t, exec.Command(a.bin, "serve", "--config", conf), "smtp", "submission")

	uids, gids, groups := procIDs(t, srv.cmd.Process.Pid)
	if uids != "65534 65534 65534 65534" || gids != "65534 65534 65534 65534" || groups != "65534" {
		t.Errorf("gannet runs with Uid %q Gid %q Groups %q, want nobody's (65534) everywhere", uids, gids, groups)
	}
	fi, err := os.Stat(data)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 65534 || fi.Mode().Perm() != 0o700 {
		t.Errorf("data_dir created with uid %d mode %v, want nobody's and 0700", st.Uid, fi.Mode().Perm())
	}

	add := exec.Command(a.bin, "user", "add", "--config", conf, "alice@example.test")
	add.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("gannet user add: %v\n%s", err, out)
	}
	// Every file in data_dir belongs to nobody, the admin command's too.
	filepath.Walk(data, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Sys().(*syscall.Stat_t).Uid != 65534 {
			t.Errorf("%s belongs to uid %d, not nobody", p, fi.Sys().(*syscall.Stat_t).Uid)
		}
		return nil
	})

	sendMail(t, addrs["smtp"], "bob@sender.test", "alice@example.test")
	if authLogin(t, addrs["submission"], "alice@example.test", "wrong password") {
		t.Error("a wrong password was accepted")
	}
	if !authLogin(t, addrs["submission"], "alice@example.test", "correct horse battery") {
		t.Error("the right password was refused")
	}
	srv.waitLog(t, regexp.MustCompile(`"msg":"authenticated"`))
	srv.stop(t)

	// Every line is one JSON object with time, level and msg; the
	// transaction and login lines carry what an operator greps for.
	var delivered, failed, ok map[string]any
	for line := range strings.SplitSeq(srv.lines(), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q: %v", line, err)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, has := m[k]; !has {
				t.Errorf("log line without %q: %s", k, line)
			}
		}
		login, _ := m["login"].(map[string]any)
		switch {
		case m["msg"] == "delivered":
			delivered = m
		case login != nil && login["outcome"] == "wrong":
			failed = m
		case login != nil && login["outcome"] == "ok":
			ok = m
		}
	}
	if delivered == nil || delivered["server"] != "smtp" || delivered["from"] != "bob@sender.test" ||
		delivered["rcpts"] != 1.0 || delivered["id"] == nil || !strings.HasPrefix(fmt.Sprint(delivered["remote"]), "127.0.0.1:") {
		t.Errorf("delivered line: %v", delivered)
	}
	if failed == nil || failed["server"] != "submission" || failed["level"] != "INFO" ||
		!strings.HasPrefix(fmt.Sprint(failed["remote"]), "127.0.0.1:") || failed["login"].(map[string]any)["user_hash"] == nil {
		t.Errorf("failed login line: %v", failed)
	}
	if strings.Contains(srv.lines(), "wrong password") {
		t.Error("a password reached the log")
	}
	if ok == nil || ok["login"].(map[string]any)["account"] != "alice@example.test" {
		t.Errorf("login line: %v", ok)
	}
	if got := fail2banIPs(t, dir, srv.lines(), 1); got != "127.0.0.1" {
		t.Errorf("fail2ban found %q in the JSON log, want one 127.0.0.1:\n%s", got, srv.lines())
	}
}

// Started as root without user, gannet refuses; --allow-root (or
// allow_root) lets it run, saying so. Its text log lines match the fail2ban
// filter in README.md.
func TestRootRefused(t *testing.T) {
	needRoot(t)
	t.Parallel()
	a := built(t)
	dir, data := userDir(t)
	conf := testConfig(t, dir, data, "")
	out, err := exec.Command(a.bin, "serve", "--config", conf).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to run as root") {
		t.Fatalf("gannet serve as root without user: %v\n%s", err, out)
	}
	if _, err := os.Stat(data); err == nil {
		t.Error("the refused server created its data directory")
	}

	srv, addrs := start(t, exec.Command(a.bin, "serve", "--allow-root", "--config", conf), "smtp", "submission")
	srv.waitLog(t, regexp.MustCompile(`level=WARN msg="running as root`))
	if uids, _, _ := procIDs(t, srv.cmd.Process.Pid); uids != "0 0 0 0" {
		t.Errorf("--allow-root runs with Uid %q", uids)
	}
	add := exec.Command(a.bin, "user", "add", "--config", conf, "alice@example.test")
	add.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("gannet user add: %v\n%s", err, out)
	}
	authLogin(t, addrs["submission"], "mallory@example.test", "guess")
	authLogin(t, addrs["submission"], "alice@example.test", "correct horse battery")
	srv.waitLog(t, regexp.MustCompile(`login\.outcome=wrong`))
	srv.waitLog(t, regexp.MustCompile(`login\.outcome=ok`))
	srv.stop(t)
	// fail2ban, given README's filter, finds the one failed login's address
	// and nothing in the other lines.
	if got := fail2banIPs(t, dir, srv.lines(), 0); got != "127.0.0.1" {
		t.Errorf("fail2ban found %q in the log, want one 127.0.0.1:\n%s", got, srv.lines())
	}

	conf2 := testConfig(t, dir, data, "allow_root = true\n")
	start(t, exec.Command(a.bin, "serve", "--config", conf2), "smtp")
}

// readmeFilter is the n-th fail2ban filter README.md shows (0: for text
// logs, 1: for JSON): from its [Definition] line to the end of the code
// block.
func readmeFilter(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(b), "\n[Definition]\n")
	if len(parts) != 3 {
		t.Fatalf("README.md has %d fail2ban filters ([Definition] in a code block), want 2", len(parts)-1)
	}
	block, _, _ := strings.Cut(parts[n+1], "```")
	return "[Definition]\n" + block
}

// fail2banIPs runs fail2ban-regex with README's n-th filter over log and
// returns the addresses it would ban for.
func fail2banIPs(t *testing.T, dir, log string, n int) string {
	t.Helper()
	logFile := filepath.Join(dir, "gannet.log")
	os.WriteFile(logFile, []byte(log+"\n"), 0o644)
	filter := filepath.Join(dir, "gannet-filter.conf")
	os.WriteFile(filter, []byte(readmeFilter(t, n)), 0o644)
	out, err := exec.Command("fail2ban-regex", "-o", "ip", logFile, filter).CombinedOutput()
	if err != nil {
		t.Fatalf("fail2ban-regex: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}
