package imapbench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gannet/internal/imapserver"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
	"gannet/internal/store/testopen"
)

const (
	testPass = "pass"
	// ioWait bounds how long a test waits for something that should
	// happen; it only stops a broken test from hanging.
	ioWait = 20 * time.Second
)

// gannetIMAP starts a Gannet IMAP server on a real listener over a real
// store (testopen), with users test1..testN@example.test, each holding msgs
// messages in INBOX. It returns the server's address.
func gannetIMAP(tb testing.TB, users, msgs int) string {
	tb.Helper()
	return gannetIMAPOpts(tb, users, msgs, true)
}

// gannetIMAPOpts is gannetIMAP with real (fastPasswords false) or test
// password hashing.
func gannetIMAPOpts(tb testing.TB, users, msgs int, fastPasswords bool) string {
	tb.Helper()
	ctx := context.Background()
	var so []testopen.Option
	if fastPasswords {
		so = append(so, testopen.FastPasswords)
	}
	st := testopen.Open(tb, so...)
	rng := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields(vocabulary)
	var rcpts []store.Recipient
	for u := 1; u <= users; u++ {
		acct := storetest.NewAccount(tb, st, fmt.Sprintf("test%d@example.test", u), testPass)
		rcpts = append(rcpts, store.Recipient{AccountID: acct.ID, Mailbox: "INBOX"})
	}
	// One delivery to every user, as the MX stores a message to many
	// recipients: the prefill of a benchmark takes seconds, not minutes.
	for i := range msgs {
		res, err := st.Deliver(ctx, store.Delivery{
			Raw:        message(rng, words, "test@example.test", fmt.Sprintf("prefill.%d", i)),
			Recipients: rcpts,
		})
		if err != nil {
			tb.Fatalf("Deliver: %v", err)
		}
		for _, r := range res {
			if r.Err != nil {
				tb.Fatalf("Deliver: %v", r.Err)
			}
		}
	}
	srv := imapserver.New(imapserver.Options{
		Store: st, Hostname: "mx.example.test", Dev: true,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ioWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		<-done
		st.Close()
	})
	return ln.Addr().String()
}

// TestRunAgainstGannet drives the whole profile against a real server for
// about two seconds: every command of the profile must have run, and none
// may have failed.
func TestRunAgainstGannet(t *testing.T) {
	t.Parallel()
	addr := gannetIMAP(t, 3, 20)
	r, err := Run(t.Context(), Options{
		Addr: addr, Users: "test%d@example.test", UserRange: "1-3", Password: testPass,
		Clients: 3, Duration: 2 * time.Second, Seed: 7, Timeout: ioWait,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r.WriteTo(&out)
	t.Logf("\n%s", out.String())
	if r.Errors != 0 {
		t.Fatalf("%d errors, want 0: %q", r.Errors, r.SampleErrors)
	}
	if r.Ops == 0 || r.Sessions == 0 || r.OpsPerSec() <= 0 {
		t.Fatalf("ops %d, sessions %d, ops/s %.1f: want some", r.Ops, r.Sessions, r.OpsPerSec())
	}
	var sum int64
	for _, c := range r.Commands {
		if c.Count == 0 {
			t.Errorf("%s never completed", c.Name)
		}
		if c.Count > 0 && (c.P50 <= 0 || c.P50 > c.P99 || c.P99 > c.Max) {
			t.Errorf("%s latencies p50 %v p99 %v max %v out of order", c.Name, c.P50, c.P99, c.Max)
		}
		if c.Name != "connect" {
			sum += c.Count
		}
	}
	if sum != r.Ops {
		t.Errorf("per-command counts add up to %d, Ops = %d", sum, r.Ops)
	}
	// Every session ends in LOGOUT unless the deadline cut it short.
	if logouts := r.Commands[kLogout].Count; logouts < r.Sessions-int64(r.Clients) {
		t.Errorf("%d LOGOUTs for %d sessions", logouts, r.Sessions)
	}
	if !strings.Contains(out.String(), "FETCH-BODY") || !strings.Contains(out.String(), "ops/s") {
		t.Errorf("report lacks the table:\n%s", out.String())
	}
}

// TestRunReportsErrors: a wrong password makes every LOGIN fail; the run
// must count and show those failures, not hide them.
func TestRunReportsErrors(t *testing.T) {
	t.Parallel()
	addr := gannetIMAP(t, 1, 0)
	r, err := Run(t.Context(), Options{
		Addr: addr, Users: "test1@example.test", Password: "wrong",
		Clients: 1, Duration: 500 * time.Millisecond, Timeout: ioWait,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops != 0 || r.Errors == 0 || r.Commands[kLogin].Errors != r.Errors {
		t.Fatalf("ops %d errors %d LOGIN errors %d: want 0 ops and only LOGIN errors",
			r.Ops, r.Errors, r.Commands[kLogin].Errors)
	}
	var out strings.Builder
	r.WriteTo(&out)
	if !strings.Contains(out.String(), "error: client 0 LOGIN: server said: a1 NO") {
		t.Fatalf("report does not show the failure:\n%s", out.String())
	}
}

// TestRunMaxOps: the op bound ends a run long before its duration.
func TestRunMaxOps(t *testing.T) {
	t.Parallel()
	addr := gannetIMAP(t, 1, 5)
	r, err := Run(t.Context(), Options{
		Addr: addr, Users: "test1@example.test", Password: testPass,
		Clients: 2, Duration: time.Minute, MaxOps: 30, Timeout: ioWait,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Each client may finish the command it had in flight.
	if r.Ops < 30 || r.Ops > 30+int64(r.Clients) || r.Errors != 0 {
		t.Fatalf("ops %d errors %d: want 30..32 ops and no errors", r.Ops, r.Errors)
	}
	if r.Elapsed > 30*time.Second {
		t.Fatalf("run took %v: MaxOps did not end it", r.Elapsed)
	}
}

// TestRunCancel: cancelling the context ends a run with the context's error.
func TestRunCancel(t *testing.T) {
	t.Parallel()
	addr := gannetIMAP(t, 1, 5)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	r, err := Run(ctx, Options{Addr: addr, Users: "test1@example.test", Password: testPass, Duration: time.Minute})
	if err == nil || r == nil {
		t.Fatalf("Run after cancel = %v, %v; want a partial result and an error", r, err)
	}
	if time.Since(start) > ioWait {
		t.Fatalf("cancelled run took %v", time.Since(start))
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:143", true},
		{"127.9.8.7:11143", true},
		{"[::1]:143", true},
		{"localhost:143", true},
		{"[::ffff:127.0.0.1]:143", true},
		{"10.0.0.1:143", false},
		{"192.168.1.1:143", false},
		{"[::ffff:10.0.0.1]:143", false},
		{"0.0.0.0:143", false},
		{"example.com:143", false},
		{"127.0.0.1.example.com:143", false},
		{"127.0.0.1", false},
		{"127.0.0.1:99999", false},
		{"", false},
	} {
		if err := CheckLoopback(tc.addr); (err == nil) != tc.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok=%v", tc.addr, err, tc.ok)
		}
	}
	if _, err := Run(t.Context(), Options{Addr: "192.0.2.1:143", Users: "u", Password: "p"}); err == nil {
		t.Error("Run against a non-loopback address did not refuse")
	}
}

func TestExpandUsers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		tpl, rng string
		want     string // joined by space; "" = error
	}{
		{"test%d@example.test", "1-3", "test1@example.test test2@example.test test3@example.test"},
		{"test%d", "7", "test7"},
		{"test%d", "", "test1"},
		{"alice@example.test", "", "alice@example.test"},
		{"alice@example.test", "1-2", ""},
		{"test%d%d", "1-2", ""},
		{"test%s", "1-2", ""},
		{"test%d", "3-1", ""},
		{"test%d", "a-b", ""},
		{"test%d", "1-1000000", ""},
	} {
		got, err := ExpandUsers(tc.tpl, tc.rng)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ExpandUsers(%q, %q) = %q, want an error", tc.tpl, tc.rng, got)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("ExpandUsers(%q, %q) = %q, %v; want %q", tc.tpl, tc.rng, got, err, tc.want)
		}
	}
}

func TestOptionsBounds(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Addr: "127.0.0.1:1", Users: "u", Duration: MaxDuration + time.Second},
		{Addr: "127.0.0.1:1", Users: "u", Clients: MaxClients + 1},
		{Addr: "127.0.0.1:1", Users: "u", Clients: -1},
		{Addr: "127.0.0.1:1"},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestFetchUID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		uid  uint32
		ok   bool
	}{
		{`* 3 FETCH (UID 7 FLAGS (\Seen))`, 7, true},
		{`* 3 FETCH (FLAGS (\Seen) UID 4294967295)`, 4294967295, true},
		{`* 3 FETCH (MODSEQ (5) UID 12)`, 12, true},
		{`* 3 FETCH (FLAGS (\Seen))`, 0, false},
		{`* 3 FETCH (XUID 5 FLAGS ())`, 0, false},
		{`* 3 FETCH (XUID 5 UID 6)`, 6, true},
		{`* 3 EXPUNGE`, 0, false},
		{`* SEARCH 1 2 3`, 0, false},
	} {
		uid, ok := fetchUID([]byte(tc.line))
		if uid != tc.uid || ok != tc.ok {
			t.Errorf("fetchUID(%q) = %d, %v; want %d, %v", tc.line, uid, ok, tc.uid, tc.ok)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	if got := quote(`a"b\c`); got != `"a\"b\\c"` {
		t.Errorf("quote = %s", got)
	}
	if got := quote("test1@example.test"); got != `"test1@example.test"` {
		t.Errorf("quote = %s", got)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i))
	}
	if p50, p99 := percentile(d, 50), percentile(d, 99); p50 != 100 || p99 != 198 {
		t.Errorf("p50 %d p99 %d, want 100 198", p50, p99)
	}
	if p := percentile(d[:1], 99); p != 1 {
		t.Errorf("p99 of one sample = %d", p)
	}
}

// TestWireLiterals runs the client against a scripted server without
// LITERAL+: APPEND must wait for the continuation request, and literals in
// responses must be skipped whole, even when they contain CRLF and "}".
func TestWireLiterals(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	body := "Subject: x {3}\r\n\r\nline}\r\n"
	srvErr := make(chan error, 1)
	go func() { srvErr <- scriptedServer(ln, body) }()

	c, err := dial(t.Context(), &Options{Addr: ln.Addr().String(), Timeout: ioWait})
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if c.literalPlus || c.literalMinus {
		t.Fatal("LITERAL+ seen in a greeting without it")
	}
	if err := c.run("APPEND INBOX", []byte("hello"), nil); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
	var lines []string
	if err := c.run("UID FETCH 5 (BODY.PEEK[])", nil, func(l []byte) { lines = append(lines, string(l)) }); err != nil {
		t.Fatalf("FETCH: %v", err)
	}
	want := "* 1 FETCH (UID 5 BODY[] {" + strconv.Itoa(len(body)) + "})"
	if len(lines) != 2 || lines[0] != want || lines[1] != "* 2 EXISTS" {
		t.Fatalf("untagged lines %q, want [%q \"* 2 EXISTS\"]", lines, want)
	}
	if err := c.run("NOOP", nil, nil); err == nil || !strings.Contains(err.Error(), "a3 NO") {
		t.Fatalf("NOOP answered NO: err = %v", err)
	}
	if err := <-srvErr; err != nil {
		t.Fatal(err)
	}
}

// scriptedServer answers one connection: a greeting without capabilities,
// a synchronizing APPEND, a FETCH with a literal, a NO.
func scriptedServer(ln net.Listener, body string) error {
	nc, err := ln.Accept()
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(ioWait))
	r := bufio.NewReader(nc)
	expect := func(want string) error {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line != want {
			return fmt.Errorf("server got %q, want %q", line, want)
		}
		return nil
	}
	io.WriteString(nc, "* OK ready\r\n")
	if err := expect("a1 APPEND INBOX {5}\r\n"); err != nil {
		return err
	}
	io.WriteString(nc, "+ go ahead\r\n")
	if err := expect("hello\r\n"); err != nil {
		return err
	}
	io.WriteString(nc, "a1 OK APPEND done\r\n")
	if err := expect("a2 UID FETCH 5 (BODY.PEEK[])\r\n"); err != nil {
		return err
	}
	fmt.Fprintf(nc, "* 1 FETCH (UID 5 BODY[] {%d}\r\n%s)\r\n* 2 EXISTS\r\na2 OK done\r\n", len(body), body)
	if err := expect("a3 NOOP\r\n"); err != nil {
		return err
	}
	io.WriteString(nc, "a3 NO not today\r\n")
	return nil
}
