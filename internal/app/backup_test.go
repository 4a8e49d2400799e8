package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/smtp"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/backup"
	"gannet/internal/config"
	"gannet/internal/store"
)

// loadMessage is a message for the load test; every third is over the
// inline limit (128 KiB), so that both inline bodies and blob files are in
// flight while the backup runs.
func loadMessage(token string, big bool) string {
	body := "load test " + token + "\r\n"
	if big {
		b := make([]byte, 100<<10)
		rand.Read(b)
		h := hex.EncodeToString(b)
		for len(h) > 0 {
			n := min(76, len(h))
			body += h[:n] + "\r\n"
			h = h[n:]
		}
	}
	return "From: load@example.org\r\nTo: u@bk.test\r\nSubject: load " + token + "\r\nMessage-ID: <" + token +
		"@example.org>\r\n\r\n" + body
}

var tokenRE = regexp.MustCompile(`Subject: load (\S+)`)

// tokens reads the load tokens of every message in the account's INBOX.
func tokens(t *testing.T, st store.Store, addr string) map[string]bool {
	t.Helper()
	ctx := t.Context()
	acct, err := st.Account(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, acct.ID, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := st.List(ctx, acct.ID, mb.ID, nil, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range msgs {
		rc, err := st.OpenRange(ctx, m.BlobID, 0, 4096)
		if err != nil {
			t.Fatal(err)
		}
		head, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if sm := tokenRE.FindSubmatch(head); sm != nil {
			out[string(sm[1])] = true
		}
	}
	return out
}

// TestBackupDuringSMTPLoad: a backup taken while SMTP clients keep
// delivering holds every message acknowledged (250) before it started; the
// restored copy verifies clean and serves them; a second backup into the
// same directory copies only the new message files.
func TestBackupDuringSMTPLoad(t *testing.T) {
	t.Parallel()
	a := testApp(t, "bk.test", nil)
	ctx := t.Context()
	if _, err := a.Store.AddAccount(ctx, "u@bk.test", "a password 1"); err != nil {
		t.Fatal(err)
	}
	addr := listener(t, a, "smtp")
	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		wg    sync.WaitGroup
		errs  = make(chan error, 4)
	)
	for w := range 4 {
		wg.Go(func() {
			c, err := smtp.Dial(addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					c.Quit()
					return
				default:
				}
				token := fmt.Sprintf("w%d-%d", w, i)
				err := c.Mail("load@example.org")
				if err == nil {
					err = c.Rcpt("u@bk.test")
				}
				var wc io.WriteCloser
				if err == nil {
					wc, err = c.Data()
				}
				if err == nil {
					_, err = io.WriteString(wc, loadMessage(token, i%3 == 0))
				}
				if err == nil {
					err = wc.Close() // the 250: the message is durable
				}
				if err != nil {
					errs <- fmt.Errorf("%s: %w", token, err)
					return
				}
				mu.Lock()
				acked = append(acked, token)
				mu.Unlock()
			}
		})
	}
	waitAcked := func(n int) []string {
		for {
			mu.Lock()
			got := append([]string(nil), acked...)
			mu.Unlock()
			if len(got) >= n {
				return got
			}
			select {
			case err := <-errs:
				t.Fatal(err)
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	waitAcked(30)
	src, err := BackupSource(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "backup")
	before := waitAcked(0) // acknowledged before the backup started
	m1, err := backup.Run(ctx, src, dir, backup.Options{Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Deliveries go on past the backup, then a second backup.
	waitAcked(len(before) + 30)
	m2, err := backup.Run(ctx, src, dir, backup.Options{Keep: 3})
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if m1.Messages < int64(len(before)) || m1.Blobs == 0 || m1.Copied != m1.Blobs {
		t.Fatalf("first backup: %+v, %d acknowledged before it", m1, len(before))
	}
	// The second copies only the files the first did not have.
	if m2.Blobs <= m1.Blobs || m2.Copied != m2.Blobs-m1.Blobs {
		t.Fatalf("second backup copied %d of %d files; the first had %d", m2.Copied, m2.Blobs, m1.Blobs)
	}

	// Restore the first snapshot: every message acknowledged before it
	// started is there, and verify finds nothing wrong.
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(ctx, dir, restored, m1.Name); err != nil {
		t.Fatal(err)
	}
	cfg := config.DevConfig(restored)
	cfg.Domains = nil
	var problems []string
	vs, err := Verify(ctx, cfg, func(p string) { problems = append(problems, p) })
	if err != nil || len(problems) != 0 || vs.Messages != m1.Messages {
		t.Fatalf("verify of the restored copy: %v %q %+v", err, problems, vs)
	}
	st, err := OpenStore(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	have := tokens(t, st, "u@bk.test")
	for _, tok := range before {
		if !have[tok] {
			t.Errorf("message %s was acknowledged before the backup started but is not in it", tok)
		}
	}
	t.Logf("%d messages acknowledged before the backup, %d in it; second backup %d files, %d copied",
		len(before), len(have), m2.Blobs, m2.Copied)
}

// TestBackupPrune: after an expunge and a collection, a message file stays
// in the backup while a kept snapshot needs it, and goes with the last such
// snapshot; shared files are left untouched (the same inode: not copied
// again).
func TestBackupPrune(t *testing.T) {
	t.Parallel()
	a := testApp(t, "prune.test", nil)
	ctx := t.Context()
	acct, err := a.Store.AddAccount(ctx, "u@prune.test", "a password 1")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	var uids []uint32
	var mbox int64
	for i := range 3 {
		raw := []byte(loadMessage(fmt.Sprint("p", i), true))
		res, err := a.Store.Deliver(ctx, store.Delivery{Raw: raw, Recipients: []store.Recipient{{AccountID: acct.ID}}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
		ids = append(ids, store.Ingest(raw).ID)
		uids = append(uids, res[0].UID)
		mbox = res[0].MailboxID
	}
	src, err := BackupSource(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m1, err := backup.Run(ctx, src, dir, backup.Options{Keep: 1})
	if err != nil || m1.Copied != 3 {
		t.Fatalf("%+v %v", m1, err)
	}
	file := func(id string) string { return filepath.Join(dir, "blobs", id[:2], id) }
	kept, err := os.Stat(file(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.ExpungeUIDs(ctx, acct.ID, mbox, uids[2:]); err != nil {
		t.Fatal(err)
	}
	a.Store.(interface{ SetGCGrace(time.Duration) }).SetGCGrace(time.Nanosecond)
	if _, err := a.Store.GC(ctx); err != nil {
		t.Fatal(err)
	}
	// An interrupted backup (no manifest) is never restored, even when it
	// is the newest, and the next backup removes it.
	partial := filepath.Join(dir, "snapshots", "29991231T000000Z")
	if err := os.MkdirAll(partial, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(partial, "gannet.db"), []byte("half a database"), 0o600)
	if m, err := backup.Restore(ctx, dir, filepath.Join(t.TempDir(), "r"), ""); err != nil || m.Name != m1.Name {
		t.Fatalf("restore with an interrupted snapshot: %v %+v", err, m)
	}
	// Keep 2: the first snapshot still needs the expunged message's file.
	m2, err := backup.Run(ctx, src, dir, backup.Options{Keep: 2})
	if err != nil || m2.Copied != 0 || m2.Blobs != 2 {
		t.Fatalf("%+v %v", m2, err)
	}
	if _, err := os.Stat(file(ids[2])); err != nil {
		t.Fatalf("a file the kept first snapshot needs was removed: %v", err)
	}
	// Keep 1: the first snapshot goes, and the file only it needed.
	m3, err := backup.Run(ctx, src, dir, backup.Options{Keep: 1})
	if err != nil || m3.Copied != 0 || m3.Blobs != 2 {
		t.Fatalf("%+v %v", m3, err)
	}
	snaps, err := backup.Snapshots(dir)
	if err != nil || len(snaps) != 1 || snaps[0].Name != m3.Name {
		t.Fatalf("snapshots after keep 1: %+v %v", snaps, err)
	}
	if _, err := os.Stat(file(ids[2])); !os.IsNotExist(err) {
		t.Errorf("the expunged message's file is still in the backup: %v", err)
	}
	if _, err := os.Stat(partial); !os.IsNotExist(err) {
		t.Errorf("the interrupted snapshot is still there: %v", err)
	}
	for _, id := range ids[:2] {
		if _, err := os.Stat(file(id)); err != nil {
			t.Errorf("a file the last snapshot needs was removed: %v", err)
		}
	}
	now, err := os.Stat(file(ids[0]))
	if err != nil || !os.SameFile(kept, now) {
		t.Errorf("a shared file was replaced: %v", err)
	}
	// A restore refuses a directory that holds anything.
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "x"), nil, 0o600)
	if _, err := backup.Restore(ctx, dir, full, ""); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a non-empty directory: %v", err)
	}
	// A directory that is not a backup is refused too.
	if _, err := backup.Run(ctx, src, full, backup.Options{}); err == nil {
		t.Error("backup into a non-empty, non-backup directory succeeded")
	}
}

// TestScheduledBackup: the schedule follows the newest snapshot; the
// server's backup round writes one and the metrics say when and how big.
func TestScheduledBackup(t *testing.T) {
	t.Parallel()
	cfg := config.DevConfig(t.TempDir())
	cfg.TLS = config.TLS{}
	cfg.Listeners = config.Listeners{SMTP: "127.0.0.1:0"}
	cfg.Backup.Dir = filepath.Join(t.TempDir(), "b")
	a, err := New(t.Context(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := t.Context()
	src, err := BackupSource(a.Config)
	if err != nil {
		t.Fatal(err)
	}
	// No snapshot yet: the first comes soon after start.
	if w := nextBackup(a.Config.Backup, time.Now()); w != firstBackupDelay {
		t.Fatalf("first backup in %v, want %v", w, firstBackupDelay)
	}
	a.backupOnce(ctx, src, a.Config.Backup)
	snaps, err := backup.Snapshots(a.Config.Backup.Dir)
	if err != nil || len(snaps) != 1 {
		t.Fatalf("%+v %v", snaps, err)
	}
	// Then one interval after the last, also across a restart; an overdue
	// one comes soon.
	last := snaps[0].Finished
	if w := nextBackup(a.Config.Backup, last.Add(time.Hour)); w != 23*time.Hour {
		t.Errorf("next backup an hour after the last in %v, want 23h", w)
	}
	if w := nextBackup(a.Config.Backup, last.Add(48*time.Hour)); w != firstBackupDelay {
		t.Errorf("overdue backup in %v, want %v", w, firstBackupDelay)
	}
	// After a restart the metrics start from the newest snapshot.
	a.backups.lastSuccess.Store(0)
	a.backups.lastSize.Store(0)
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	a.scheduleBackups(stopped)
	rec := httptest.NewRecorder()
	newAdminServer(a).metrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	want := fmt.Sprintf("gannet_backup_last_success_timestamp_seconds %d\n", snaps[0].Finished.Unix())
	if !strings.Contains(body, want) || !strings.Contains(body, fmt.Sprintf("gannet_backup_last_size_bytes %d\n", snaps[0].Size())) {
		t.Fatalf("metrics lack the backup:\n%s", body)
	}
}

// collectingSource is the real SQLite source of an app whose first
// database copy is followed, before its files are copied, by an expunge
// and a collection that delete one of the files the copy references: the
// race between a backup and the server's hourly GC, made certain.
type collectingSource struct {
	backup.Source
	t      *testing.T
	a      *App
	acct   int64
	mbox   int64
	uid    uint32
	copies int
}

func (s *collectingSource) CopyDatabase(ctx context.Context, path string, blob func(string) error) (backup.Database, error) {
	db, err := s.Source.CopyDatabase(ctx, path, blob)
	s.copies++
	if s.copies == 1 && err == nil {
		if _, err := s.a.Store.ExpungeUIDs(ctx, s.acct, s.mbox, []uint32{s.uid}); err != nil {
			s.t.Error(err)
		}
		s.a.Store.(interface{ SetGCGrace(time.Duration) }).SetGCGrace(time.Nanosecond)
		if n, err := s.a.Store.GC(ctx); err != nil || n != 1 {
			s.t.Errorf("GC removed %d: %v", n, err)
		}
	}
	return db, err
}

// TestBackupRetriesAfterCollection: a message file collected between the
// database copy and its copying makes the backup take the copy again,
// which no longer needs it; the result restores and verifies clean.
func TestBackupRetriesAfterCollection(t *testing.T) {
	t.Parallel()
	a := testApp(t, "race.test", nil)
	ctx := t.Context()
	acct, err := a.Store.AddAccount(ctx, "u@race.test", "a password 1")
	if err != nil {
		t.Fatal(err)
	}
	src := &collectingSource{t: t, a: a, acct: acct.ID}
	for i := range 2 {
		res, err := a.Store.Deliver(ctx, store.Delivery{Raw: []byte(loadMessage(fmt.Sprint("r", i), true)),
			Recipients: []store.Recipient{{AccountID: acct.ID}}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res)
		}
		src.mbox, src.uid = res[0].MailboxID, res[0].UID
	}
	if src.Source, err = BackupSource(a.Config); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m, err := backup.Run(ctx, src, dir, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if src.copies != 2 || m.Blobs != 1 || m.Messages != 1 {
		t.Fatalf("%d database copies, manifest %+v; want 2 copies, 1 message", src.copies, m)
	}
	restored := filepath.Join(t.TempDir(), "r")
	if _, err := backup.Restore(ctx, dir, restored, ""); err != nil {
		t.Fatal(err)
	}
	cfg := config.DevConfig(restored)
	var problems []string
	if _, err := Verify(ctx, cfg, func(p string) { problems = append(problems, p) }); err != nil || len(problems) != 0 {
		t.Fatalf("verify: %v %q", err, problems)
	}
}
