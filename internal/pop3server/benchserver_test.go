package pop3server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

// TestBenchServer serves a prefilled Gannet POP3 server on a fixed loopback
// address for the workspace POP3 load tool (bench-pop3.py), so that it is measured with the
// same load as the Dovecot peer. It runs only when GANNET_POP3_BENCH_ADDR is
// set (e.g. 127.0.0.1:12110), for GANNET_POP3_BENCH_SECS seconds (default 300,
// at most 1800). Users test1..test100@example.test, password "pass"; users
// 91..100 get the first 200 messages of the bench mbox, converted to CRLF
// exactly as bench-pop3.py --prefill sends them. GANNET_POP3_BENCH_FASTPW=1
// uses cheap password hashing (Dovecot's peer stores plain passwords).
func TestBenchServer(t *testing.T) {
	t.Parallel()
	addr := os.Getenv("GANNET_POP3_BENCH_ADDR")
	if addr == "" {
		t.Skip("set GANNET_POP3_BENCH_ADDR=127.0.0.1:PORT to serve a benchmark server")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("GANNET_POP3_BENCH_ADDR=%q: want a loopback host:port", addr)
	}
	secs := 300
	if s := os.Getenv("GANNET_POP3_BENCH_SECS"); s != "" {
		if secs, err = strconv.Atoi(s); err != nil || secs <= 0 {
			t.Fatalf("GANNET_POP3_BENCH_SECS=%q", s)
		}
	}
	secs = min(secs, 1800)
	mbox := os.Getenv("GANNET_POP3_BENCH_MBOX")
	if mbox == "" {
		mbox = "/tmp/peer/bench.mbox"
	}
	py := needTool(t, "python3", "python3")
	here, _ := os.Getwd()
	makeMbox := filepath.Join(here, "../../../shared/bench/make-mbox.py")
	if _, err := os.Stat(mbox); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(mbox), 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(py, makeMbox, "-n", "200", "-o", mbox).CombinedOutput(); err != nil {
			t.Fatalf("make-mbox.py: %v\n%s", err, out)
		}
	}
	// The exact bytes bench-pop3.py's prefill would deliver.
	emls := t.TempDir()
	split := `import mailbox, sys
for i, m in enumerate(list(mailbox.mbox(sys.argv[1]))[:200]):
    open("%s/%03d.eml" % (sys.argv[2], i), "wb").write(m.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
`
	if out, err := exec.Command(py, "-c", split, mbox, emls).CombinedOutput(); err != nil {
		t.Fatalf("split mbox: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(emls, "*.eml"))
	sort.Strings(files)
	var msgs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}

	ctx := context.Background()
	var so []testopen.Option
	if os.Getenv("GANNET_POP3_BENCH_FASTPW") == "1" {
		so = append(so, testopen.FastPasswords)
	}
	st := testopen.Open(t, so...)
	for i := 1; i <= 100; i++ {
		a := storetest.NewAccount(t, st, fmt.Sprintf("test%d@example.test", i), "pass")
		if i > 90 {
			fill(t, st, a.ID, msgs)
		}
	}
	a, _ := st.Account(ctx, "test91@example.test")
	mb, _ := st.Mailbox(ctx, a.ID, "INBOX")
	t.Logf("prefilled users 91-100 with %d messages (%d octets each user)", mb.Messages, mb.Size)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(Options{Store: st, Hostname: "bench.example.test", Dev: true})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	fmt.Fprintf(os.Stderr, "gannet pop3 bench server on %s for %ds\n", addr, secs)
	time.Sleep(time.Duration(secs) * time.Second)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve: %v", err)
	}
}
