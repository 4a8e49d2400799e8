package packaging

import (
	"debug/elf"
	"net/smtp"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gannet/internal/config"
)

// The .deb for the host's architecture, built as release.sh builds it,
// holds the right files with the right owners and modes, its conffile, and
// maintainer scripts that parse; the packaged config loads.
func TestDeb(t *testing.T) {
	t.Parallel()
	a := built(t)
	dir := t.TempDir()
	deb := buildDeb(t, a, dir)

	out, err := exec.Command("dpkg-deb", "-c", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v\n%s", err, out)
	}
	// "-rw-r----- root/gannet 10219 2026-12-07 19:12 ./etc/gannet/gannet.toml"
	got := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		got[f[len(f)-1]] = f[0] + " " + f[1]
	}
	for path, want := range map[string]string{
		"./usr/bin/gannet":                    "-rwxr-xr-x root/root",
		"./etc/gannet/gannet.toml":            "-rw-r----- root/gannet",
		"./var/lib/gannet/":                   "drwx------ gannet/gannet",
		"./lib/systemd/system/gannet.service": "-rw-r--r-- root/root",
		"./usr/share/doc/gannet/README.md":    "-rw-r--r-- root/root",
	} {
		if got[path] != want {
			t.Errorf("%s: %q, want %q", path, got[path], want)
		}
	}

	fields, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Pre-Depends", "Depends").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v\n%s", err, fields)
	}
	for _, want := range []string{"Package: gannet\n", "Version: " + testVersion + "\n", "Architecture: " + goarchToDeb() + "\n",
		"Pre-Depends: adduser\n", "Depends: adduser, init-system-helpers"} {
		if !strings.Contains(string(fields), want) {
			t.Errorf("control fields %q lack %q", fields, want)
		}
	}

	ctrl := filepath.Join(dir, "control")
	if out, err := exec.Command("dpkg-deb", "-e", deb, ctrl).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -e: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ctrl, "conffiles")); string(b) != "/etc/gannet/gannet.toml\n" {
		t.Errorf("conffiles = %q", b)
	}
	for _, script := range []string{"preinst", "postinst", "prerm", "postrm"} {
		p := filepath.Join(ctrl, script)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v %v", script, fi, err)
			continue
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", script, err, out)
		}
	}

	root := filepath.Join(dir, "root")
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	// Static: no program interpreter (the dynamic loader) to depend on.
	f, err := elf.Open(filepath.Join(root, "usr/bin/gannet"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the packaged binary is dynamically linked")
		}
	}
	f.Close()
	unit, err := os.ReadFile(filepath.Join(root, "lib/systemd/system/gannet.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=/usr/bin/gannet serve --config /etc/gannet/gannet.toml\n", "User=gannet\n",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n", "NoNewPrivileges=yes\n",
		"ProtectSystem=strict\n", "ReadWritePaths=/var/lib/gannet\n", "PrivateTmp=yes\n", "WantedBy=multi-user.target\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("gannet.service lacks %q", want)
		}
	}
	c, err := config.Load(filepath.Join(root, "etc/gannet/gannet.toml"))
	if err != nil {
		t.Fatalf("the packaged config does not load: %v", err)
	}
	if c.User != "gannet" || c.DataDir != "/var/lib/gannet" || !c.TLS.ACME || c.TLS.CertFile != "" || c.AllowRoot {
		t.Errorf("packaged config: user %q data_dir %q acme %v cert_file %q allow_root %v",
			c.User, c.DataDir, c.TLS.ACME, c.TLS.CertFile, c.AllowRoot)
	}
}

// goarchToDeb is Debian's name for the host architecture (the same for
// the two release.sh builds).
func goarchToDeb() string {
	out, err := exec.Command("dpkg", "--print-architecture").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func owner(t *testing.T, path string) (perm os.FileMode, uid, gid int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode().Perm(), int(st.Uid), int(st.Gid)
}

// The .deb installs into this machine with dpkg -i, makes the gannet user,
// the owners and modes of its config and data directory, and the installed
// binary serves SMTP as the gannet user; dpkg --purge removes it again.
// Only with GANNET_TEST_DPKG=1 (test.sh sets it in CI, on a throwaway
// machine, as root): it changes the system.
func TestDebInstall(t *testing.T) {
	if os.Getenv("GANNET_TEST_DPKG") != "1" {
		t.Skip("installs into this machine: set GANNET_TEST_DPKG=1 (as root) to run it")
	}
	if os.Geteuid() != 0 {
		t.Fatal("GANNET_TEST_DPKG=1 needs root")
	}
	// Never touch an install that was there before.
	if exec.Command("dpkg", "-s", "gannet").Run() == nil {
		t.Fatal("a gannet package is installed on this machine; not touching it")
	}
	for _, p := range []string{"/var/lib/gannet", "/etc/gannet"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s exists on this machine; not touching it", p)
		}
	}
	if _, err := user.Lookup("gannet"); err == nil {
		t.Fatal("a gannet user exists on this machine; not touching it")
	}
	t.Cleanup(func() {
		exec.Command("dpkg", "--purge", "gannet").Run()
		os.RemoveAll("/var/lib/gannet")
		os.RemoveAll("/etc/gannet")
		exec.Command("deluser", "--system", "--quiet", "gannet").Run()
		exec.Command("delgroup", "--system", "--quiet", "gannet").Run()
	})
	a := built(t)
	dir, _ := userDir(t)
	deb := buildDeb(t, a, dir)

	out := run(t, "dpkg", "-i", deb)
	if !strings.Contains(out, "systemctl enable --now gannet") {
		t.Errorf("dpkg -i did not say how to start the server:\n%s", out)
	}
	u, err := user.Lookup("gannet")
	if err != nil {
		t.Fatalf("no gannet user after install: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 || uid >= 1000 || u.HomeDir != "/var/lib/gannet" {
		t.Errorf("gannet user: uid %d home %q, want a system user (uid below 1000) at /var/lib/gannet", uid, u.HomeDir)
	}
	if p, o, g := owner(t, "/var/lib/gannet"); p != 0o700 || o != uid || g != gid {
		t.Errorf("/var/lib/gannet: %v %d:%d", p, o, g)
	}
	if p, o, g := owner(t, "/etc/gannet/gannet.toml"); p != 0o640 || o != 0 || g != gid {
		t.Errorf("/etc/gannet/gannet.toml: %v %d:%d", p, o, g)
	}
	if v := run(t, "/usr/bin/gannet", "version"); !strings.Contains(v, "gannet "+testVersion+"\n") {
		t.Errorf("installed gannet version: %q", v)
	}
	// The gannet user reads its config; others do not.
	run(t, "runuser", "-u", "gannet", "--", "cat", "/etc/gannet/gannet.toml")
	if exec.Command("runuser", "-u", "nobody", "--", "cat", "/etc/gannet/gannet.toml").Run() == nil {
		t.Error("nobody can read /etc/gannet/gannet.toml")
	}
	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		run(t, "systemd-analyze", "verify", "/lib/systemd/system/gannet.service")
	} else {
		t.Log("systemd-analyze is absent: the unit's syntax is not verified")
	}

	// An admin command as root on the installed config works as gannet:
	// the database it creates in /var/lib/gannet is the server's.
	add := exec.Command("/usr/bin/gannet", "user", "add", "--config", "/etc/gannet/gannet.toml", "alice@example.com")
	add.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("gannet user add --config /etc/gannet/gannet.toml: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir("/var/lib/gannet")
	if len(entries) == 0 {
		t.Error("user add created nothing in /var/lib/gannet")
	}
	filepath.Walk("/var/lib/gannet", func(p string, fi os.FileInfo, err error) error {
		if err == nil && int(fi.Sys().(*syscall.Stat_t).Uid) != uid {
			t.Errorf("%s is not the gannet user's", p)
		}
		return nil
	})

	// The installed binary, started as the gannet user as the unit does
	// (systemd does not run here), on loopback ports over the installed
	// data directory, answers SMTP.
	conf := filepath.Join(dir, "gannet.toml")
	os.WriteFile(conf, []byte(`hostname = "mail.example.com"
user = "gannet"
data_dir = "/var/lib/gannet"
domains = ["example.com"]
[listeners]
smtp = "127.0.0.1:0"
submission = ""
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
admin = ""
`), 0o644)
	cmd := exec.Command("/usr/bin/gannet", "serve", "--config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}}
	srv, addrs := start(t, cmd, "smtp")
	uids, _, _ := procIDs(t, srv.cmd.Process.Pid)
	if want := strings.Repeat(u.Uid+" ", 3) + u.Uid; uids != want {
		t.Errorf("installed gannet runs as %q, want %q", uids, want)
	}
	c, err := smtp.Dial(addrs["smtp"])
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client.example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bob@example.net"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("alice@example.com"); err != nil {
		t.Errorf("RCPT to the account user add made: %v", err)
	}
	c.Quit()
	srv.waitLog(t, regexp.MustCompile(`msg=listening server=smtp`))
	srv.stop(t)

	run(t, "dpkg", "--purge", "gannet")
	for _, gone := range []string{"/usr/bin/gannet", "/etc/gannet/gannet.toml", "/lib/systemd/system/gannet.service"} {
		if _, err := os.Stat(gone); err == nil {
			t.Errorf("%s is still there after dpkg --purge", gone)
		}
	}
	// The mail stays (README.md, "Install").
	if _, err := os.Stat("/var/lib/gannet"); err != nil {
		t.Errorf("dpkg --purge removed the mail: %v", err)
	}
}
