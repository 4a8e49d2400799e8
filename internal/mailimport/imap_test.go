package mailimport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"gannet/internal/mailimport"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// dovecotServer is Dovecot's IMAP server on loopback with a private
// configuration: any user, password "secret", mail in HOME/Maildir.
type dovecotServer struct {
	dir                 string
	imapPort, imapsPort int
}

// freePort finds a port free on 127.0.0.1 (Dovecot binds it itself).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func selfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// startDovecot starts Dovecot in the foreground on free ports; the mail of
// user U must be in dir/home/U/Maildir before it is read.
func startDovecot(t *testing.T, dir string) *dovecotServer {
	t.Helper()
	return startDovecotNS(t, dir, `namespace inbox {
  inbox = yes
  separator = /
  mailbox Gesendet {
    special_use = \Sent
  }
  mailbox Papierkorb {
    special_use = \Trash
  }
}
`)
}

// startDovecotNS is startDovecot with another namespace configuration.
func startDovecotNS(t *testing.T, dir, namespace string) *dovecotServer {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		t.Fatal("dovecot not found: install the Debian package dovecot-imapd (apt-get install -y dovecot-imapd)")
	}
	d := &dovecotServer{dir: dir, imapPort: freePort(t), imapsPort: freePort(t)}
	cert, key := selfSigned(t, dir)
	conf := fmt.Sprintf(`protocols = imap
listen = 127.0.0.1
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/log
ssl = yes
ssl_cert = <%[2]s
ssl_key = <%[3]s
disable_plaintext_auth = yes
auth_mechanisms = plain
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=%[6]d gid=%[7]d home=%[1]s/home/%%u
}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    port = %[4]d
  }
  inet_listener imaps {
    port = %[5]d
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
`, dir, cert, key, d.imapPort, d.imapsPort, os.Getuid(), os.Getgid()) + namespace
	if os.Getuid() == 0 {
		// Dovecot never touches mail as root: mail is nobody's.
		conf = strings.Replace(conf, "uid=0 gid=0", "uid=65534 gid=65534", 1)
		for _, p := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		u := os.Getenv("USER")
		conf += fmt.Sprintf("default_login_user = %s\ndefault_internal_user = %s\n", u, u)
	}
	p := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-F", "-c", p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.imapsPort))
		if err == nil {
			c.Close()
			break
		}
		if i == 200 {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("dovecot did not start: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

// chownMail gives the mail under home to nobody when running as root.
func chownMail(t *testing.T, root string) {
	t.Helper()
	if os.Getuid() != 0 {
		return
	}
	if err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	}); err != nil {
		t.Fatal(err)
	}
}

type srcMsg struct {
	folder, raw string
	flags       []string
	date        time.Time
}

// writeSource writes a Maildir++ tree as Dovecot keeps one: folders,
// flags in file names, keywords in dovecot-keywords, dates as mtimes.
func writeSource(t *testing.T, md string, folders []string, per int) []srcMsg {
	t.Helper()
	var out []srcMsg
	letters := []struct {
		c    byte
		flag string
	}{{'F', store.FlagFlagged}, {'R', store.FlagAnswered}, {'S', store.FlagSeen}}
	base := time.Date(2020, 1, 1, 12, 0, 0, 0, time.UTC)
	for fi, f := range folders {
		dir := md
		if f != "INBOX" {
			dir = filepath.Join(md, "."+strings.ReplaceAll(f, "/", "."))
		}
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte("0 project\n1 $Important\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for i := range per {
			n := fi*per + i
			raw := fmt.Sprintf("From: a%d@example.org\r\nSubject: %s %d\r\nMessage-ID: <%d@example.org>\r\n\r\nbody %d\r\nFrom here\r\n", n, f, i, n, n)
			var info []byte
			var flags []string
			for j, l := range letters {
				if n>>j&1 == 1 {
					info = append(info, l.c)
					flags = append(flags, l.flag)
				}
			}
			if n%5 == 0 {
				info = append(info, 'a')
				flags = append(flags, "project")
			}
			if n%7 == 0 {
				info = append(info, 'b')
				flags = append(flags, "$Important")
			}
			date := base.Add(time.Duration(n) * 37 * time.Minute)
			p := filepath.Join(dir, "cur", fmt.Sprintf("%d.M%dP1.src:2,%s", date.Unix(), n, info))
			if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, date, date); err != nil {
				t.Fatal(err)
			}
			out = append(out, srcMsg{folder: f, raw: raw, flags: flags, date: date})
		}
	}
	return out
}

func sortedFlags(f []string) string {
	f = append([]string(nil), f...)
	sort.Slice(f, func(i, j int) bool { return strings.ToLower(f[i]) < strings.ToLower(f[j]) })
	return strings.Join(f, " ")
}

// TestImportIMAPDovecot: 2,000 messages in 20 folders of a Dovecot
// account move over IMAP with their flags, keywords, dates and bytes,
// Dovecot's \Sent folder into the account's \Sent; a rerun (over STARTTLS)
// fetches nothing; a new message is the only one a third run moves.
func TestImportIMAPDovecot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	md := filepath.Join(dir, "home", "src", "Maildir")
	folders := []string{"INBOX", "Gesendet", "Papierkorb", "Projects", "Projects/Sub"}
	for i := len(folders); i < 20; i++ {
		folders = append(folders, fmt.Sprintf("Folder%02d", i))
	}
	msgs := writeSource(t, md, folders, 100)
	chownMail(t, filepath.Join(dir, "home"))
	dv := startDovecot(t, dir)

	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "dest@example.org", "pw")
	statePath := mailimport.IMAPStatePath(t.TempDir(), "src", acct.Address)
	run := func(url string) mailimport.Summary {
		t.Helper()
		src, err := mailimport.DialIMAP(ctx, mailimport.IMAPOptions{URL: url, Password: "secret", Insecure: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		state, err := mailimport.LoadIMAPState(statePath, url, acct.Address)
		if err != nil {
			t.Fatal(err)
		}
		im := &mailimport.Importer{Store: st, Account: acct, Workers: 4}
		if err := mailimport.ImportIMAP(ctx, im, src, state, statePath); err != nil {
			t.Fatal(err)
		}
		return im.Summary()
	}
	imaps := fmt.Sprintf("imaps://src@127.0.0.1:%d", dv.imapsPort)
	start := time.Now()
	if s := run(imaps); s.Messages != 2000 || s.SkippedTotal() != 0 {
		t.Fatalf("first run: %d messages, skipped %v %v", s.Messages, s.Skipped, s.Reports)
	}
	t.Logf("first run: 2000 messages in %s", time.Since(start).Round(time.Millisecond)) // a figure, not a check

	target := func(f string) string {
		switch f {
		case "Gesendet":
			return "Sent"
		case "Papierkorb":
			return "Trash"
		}
		return f
	}
	want := map[string]map[string]srcMsg{} // mailbox → subject line → message
	for _, m := range msgs {
		b := target(m.folder)
		if want[b] == nil {
			want[b] = map[string]srcMsg{}
		}
		want[b][m.raw] = m
	}
	check := func() {
		t.Helper()
		for box, byRaw := range want {
			mb, err := st.Mailbox(ctx, acct.ID, box)
			if err != nil {
				t.Fatalf("mailbox %s: %v", box, err)
			}
			list, err := st.List(ctx, acct.ID, mb.ID, nil, store.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != len(byRaw) {
				t.Fatalf("%s: %d messages, Dovecot has %d", box, len(list), len(byRaw))
			}
			for _, m := range list {
				rc, err := st.Open(ctx, m.BlobID)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				w, ok := byRaw[string(b)]
				switch {
				case !ok:
					t.Fatalf("%s UID %d: bytes %q not in the source", box, m.UID, b)
				case sortedFlags(m.Flags) != sortedFlags(w.flags):
					t.Errorf("%s UID %d: flags %q, source %q", box, m.UID, m.Flags, w.flags)
				case !m.InternalDate.Equal(w.date):
					t.Errorf("%s UID %d: date %s, source %s", box, m.UID, m.InternalDate, w.date)
				}
			}
		}
	}
	check()
	sent, err := store.FindSpecialMailbox(ctx, st, acct.ID, store.SpecialSent)
	if err != nil || sent.Name != "Sent" || sent.Messages != 100 {
		t.Fatalf("\\Sent mailbox %+v %v", sent, err)
	}
	if _, err := st.Mailbox(ctx, acct.ID, "Gesendet"); err == nil {
		t.Error("Gesendet was created instead of using \\Sent")
	}

	// A rerun, over STARTTLS, fetches nothing at all (no skips either).
	imap := fmt.Sprintf("imap://src@127.0.0.1:%d", dv.imapPort)
	if s := run(imap); s.Messages != 0 || s.SkippedTotal() != 0 {
		t.Fatalf("rerun: %d messages, skipped %v", s.Messages, s.Skipped)
	}
	// One new message arrives at the source: only it moves.
	raw := "From: new@example.org\r\nSubject: late\r\n\r\nnew\r\n"
	p := filepath.Join(md, ".Projects.Sub", "new", "1700000000.M9P9.src")
	if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, time.Unix(1700000000, 0), time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	chownMail(t, p)
	if s := run(imaps); s.Messages != 1 || s.SkippedTotal() != 0 || s.Folders["Projects/Sub"] != 1 {
		t.Fatalf("third run: %+v", s)
	}
	want["Projects/Sub"][raw] = srcMsg{raw: raw, date: time.Unix(1700000000, 0)}
	check()
}

// TestImportIMAPRefusals: a wrong password, an untrusted certificate and
// bad URLs are clear errors.
func TestImportIMAPRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o755); err != nil {
		t.Fatal(err)
	}
	chownMail(t, filepath.Join(dir, "home"))
	dv := startDovecot(t, dir)
	ctx := context.Background()
	url := fmt.Sprintf("imaps://u@127.0.0.1:%d", dv.imapsPort)
	if _, err := mailimport.DialIMAP(ctx, mailimport.IMAPOptions{URL: url, Password: "wrong", Insecure: true}); err == nil ||
		!strings.Contains(err.Error(), "as u") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := mailimport.DialIMAP(ctx, mailimport.IMAPOptions{URL: url, Password: "secret"}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Errorf("self-signed certificate without Insecure: %v", err)
	}
	for _, u := range []string{"http://u@host", "imaps://host", "imaps://u:pw@host", "imaps://u@host/INBOX", "imaps://u@"} {
		if _, _, _, err := mailimport.ParseIMAPURL(u); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
}

// TestImportIMAPNamespacePrefix: a server that keeps every folder under
// "INBOX." (Courier, Cyrus; here Dovecot configured like them) gives
// folders without the prefix, its \Sent folder into the account's.
func TestImportIMAPNamespacePrefix(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	md := filepath.Join(dir, "home", "src", "Maildir")
	writeSource(t, md, []string{"INBOX", "Gesendet", "Work", "Work/Sub"}, 2)
	chownMail(t, filepath.Join(dir, "home"))
	if os.Getuid() == 0 {
		// A folder Dovecot (working as nobody) lists but cannot open.
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(md, ".Locked", sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	dv := startDovecotNS(t, dir, `namespace inbox {
  inbox = yes
  prefix = INBOX.
  separator = .
  mailbox Gesendet {
    special_use = \Sent
  }
}
`)
	ctx := context.Background()
	st := testopen.Open(t, testopen.FastPasswords)
	acct := storetest.NewAccount(t, st, "dest@example.org", "pw")
	src, err := mailimport.DialIMAP(ctx, mailimport.IMAPOptions{URL: fmt.Sprintf("imaps://src@127.0.0.1:%d", dv.imapsPort), Password: "secret", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	folders, err := src.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range folders {
		got = append(got, f.Name+"="+f.Target)
	}
	want := "INBOX=INBOX INBOX.Gesendet=Sent INBOX.Work=Work INBOX.Work.Sub=Work/Sub"
	if os.Getuid() == 0 {
		want = "INBOX=INBOX INBOX.Gesendet=Sent INBOX.Locked=Locked INBOX.Work=Work INBOX.Work.Sub=Work/Sub"
	}
	if strings.Join(got, " ") != want {
		t.Fatalf("folders %q, want %q", got, want)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	state, _ := mailimport.LoadIMAPState(path, "x", acct.Address)
	im := &mailimport.Importer{Store: st, Account: acct}
	if err := mailimport.ImportIMAP(ctx, im, src, state, path); err != nil {
		t.Fatal(err)
	}
	s := im.Summary()
	if s.Messages != 8 || s.Folders["Sent"] != 2 || s.Folders["Work/Sub"] != 2 {
		t.Fatalf("summary %+v", s)
	}
	// The folder that cannot be opened is reported, the others imported.
	if os.Getuid() == 0 && (s.Skipped[mailimport.ReasonUnreadable] != 1 || len(s.Reports) != 1 || !strings.Contains(s.Reports[0].Error(), "INBOX.Locked")) {
		t.Fatalf("unreadable folder: %v %v", s.Skipped, s.Reports)
	}
}
