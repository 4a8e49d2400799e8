package clustertest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestMigrateUnderLoad is issue 14's online move: a server on SQLite under
// SMTP load and an IMAP client, `gannet migrate` run while it serves, then
// the server stopped, `gannet migrate --finish`, the configuration switched
// to PostgreSQL and the server started again: every message answered 250 is
// there once with the UID it had, UIDVALIDITY is the same, and a CONDSTORE
// client's resync (FETCH CHANGEDSINCE its last HIGHESTMODSEQ) returns
// exactly the messages changed since, not the mailbox.
func TestMigrateUnderLoad(t *testing.T) {
	bin := buildGannet(t)
	dir := t.TempDir()
	dsn := pg.NewDatabase(t)
	certFile, keyFile := writeCert(t, dir)
	nd := &node{name: "single", bin: bin, smtp: freeAddr(t), imaps: freeAddr(t), admin: freeAddr(t)}
	nd.config = filepath.Join(dir, "gannet.toml")
	storeURL := ""
	writeConfig := func() error {
		cfg := fmt.Sprintf(`hostname = "mail.%[1]s"
data_dir = %[2]q
store = %[3]q
domains = [%[1]q]
dev = true # no SPF/DKIM/DMARC lookups: tests never ask real DNS
allow_root = true # CI runs the tests as root
[listeners]
smtp = %[4]q
submission = ""
submissions = ""
imap = ""
imaps = %[5]q
pop3 = ""
pop3s = ""
managesieve = ""
http = ""
admin = %[6]q
[tls]
cert_file = %[7]q
key_file = %[8]q
`, domain, filepath.Join(dir, "data"), storeURL, nd.smtp, nd.imaps, nd.admin, certFile, keyFile)
		return os.WriteFile(nd.config, []byte(cfg), 0o600)
	}
	nd.rewrite = writeConfig
	gannet := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gannet %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if err := writeConfig(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		nd.kill()
		if t.Failed() {
			t.Logf("--- server log ---\n%s", nd.logTail(4000))
		}
	})
	gannet("alice-password\n", "user", "add", "alice@"+domain, "--config", nd.config)
	nd.start(t)

	// SMTP load until stopped.
	var mu sync.Mutex
	accepted := map[string][]byte{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for s := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("g%d-%d", s, i)
				msg := message(id, 1500+53*(i%40))
				if err := send(nd.smtp, "alice@"+domain, msg); err == nil {
					mu.Lock()
					accepted[id] = msg
					mu.Unlock()
				}
			}
		}()
	}
	// An IMAP client works meanwhile: it flags what it sees.
	ic := dialIMAP(t, nd.imaps, nil)
	time.Sleep(time.Second)
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := ic.Store(imap.SeqSetNum(1, 2, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
		t.Fatal(err)
	}

	// Let mail pile up, then move while SMTP load and a second IMAP
	// client's flag changes go on.
	for deadline := time.Now().Add(60 * time.Second); ; {
		mu.Lock()
		n := len(accepted)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d messages accepted in 60 s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ic2 := dialIMAP(t, nd.imaps, nil)
	if _, err := ic2.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint32(1); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			op := imap.StoreFlagsAdd
			if i%2 == 0 {
				op = imap.StoreFlagsDel
			}
			if err := ic2.Store(imap.SeqSetNum(1+i%150), &imap.StoreFlags{Op: op, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close(); err != nil {
				t.Errorf("STORE during the move: %v", err)
				return
			}
		}
	}()
	t0 := time.Now()
	out := gannet("", "migrate", "--to", dsn, "--config", nd.config)
	t.Logf("gannet migrate under load: %v\n%s", time.Since(t0), lastLines(out, 4))

	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	ic2.Logout().Wait()
	// The client's state before the switch: UIDVALIDITY, UIDs by message,
	// HIGHESTMODSEQ; then a few changes it will have to resync.
	sel, err := ic.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	before := uidsByID(t, ic)
	if err := ic.Store(imap.SeqSetNum(5, 7), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	changed := map[imap.UID]bool{}
	for _, n := range []uint32{5, 7} {
		changed[seqUID(t, ic, n)] = true
	}
	ic.Logout().Wait()

	// The switch: stop, finish, point the configuration at PostgreSQL, start.
	nd.mu.Lock()
	cmd, exited := nd.cmd, nd.exited
	nd.cmd = nil
	nd.mu.Unlock()
	cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	t1 := time.Now()
	out = gannet("", "migrate", "--to", dsn, "--config", nd.config, "--finish")
	t.Logf("gannet migrate --finish: %v\n%s", time.Since(t1), lastLines(out, 3))
	storeURL = dsn
	if err := writeConfig(); err != nil {
		t.Fatal(err)
	}
	nd.start(t)

	ic = dialIMAP(t, nd.imaps, nil)
	sel2, err := ic.Select("INBOX", &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel2.UIDValidity != sel.UIDValidity {
		t.Errorf("UIDVALIDITY %d after the move, %d before", sel2.UIDValidity, sel.UIDValidity)
	}
	after := uidsByID(t, ic)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d messages answered 250 during the move; %d in the mailbox after", len(accepted), len(after))
	for id := range accepted {
		if _, ok := after[id]; !ok {
			t.Errorf("message %s answered 250 is missing after the move", id)
		}
	}
	for id, u := range before {
		if after[id] != u {
			t.Errorf("message %s: UID %d after the move, %d before", id, after[id], u)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d messages after the move, %d before", len(after), len(before))
	}
	// CONDSTORE resync (RFC 7162 3.1.4.1): only what changed since the
	// client's HIGHESTMODSEQ.
	var all imap.UIDSet
	all.AddRange(1, 0)
	msgs, err := ic.Fetch(all, &imap.FetchOptions{Flags: true, UID: true, ChangedSince: sel.HighestModSeq}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	got := map[imap.UID]bool{}
	for _, m := range msgs {
		got[m.UID] = true
	}
	if len(got) != len(changed) {
		t.Errorf("CHANGEDSINCE %d after the move returned %d messages, want the %d flagged since", sel.HighestModSeq, len(got), len(changed))
	}
	for u := range changed {
		if !got[u] {
			t.Errorf("CHANGEDSINCE misses UID %d, flagged after the client's HIGHESTMODSEQ", u)
		}
	}
}

// uidsByID maps the selected mailbox's messages by Message-ID (the id part)
// to their UIDs.
func uidsByID(t *testing.T, c *imapclient.Client) map[string]imap.UID {
	t.Helper()
	var all imap.SeqSet
	all.AddRange(1, 0)
	section := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]imap.UID{}
	for _, m := range msgs {
		raw := m.FindBodySection(section)
		i := bytes.Index(raw, []byte("<"))
		if i < 0 {
			t.Fatalf("no Message-ID in %q", raw)
		}
		id, _, _ := strings.Cut(string(raw[i+1:]), "@")
		if _, dup := out[id]; dup {
			t.Errorf("message %s twice", id)
		}
		out[id] = m.UID
	}
	return out
}

// seqUID is the UID of message number n.
func seqUID(t *testing.T, c *imapclient.Client, n uint32) imap.UID {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSetNum(n), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("UID of %d: %v %v", n, msgs, err)
	}
	return msgs[0].UID
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
