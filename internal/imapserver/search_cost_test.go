package imapserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"gannet/internal/imapserver"
	"gannet/internal/store"
	"gannet/internal/store/storetest"
)

// probeStore is the real SQLite store with a store.SearchProbe put into
// the context of every Search, to count the evaluation's work.
type probeStore struct {
	store.Store
	probe *store.SearchProbe
	// row, if set, is called for each message Search evaluates, with the
	// context of the Search.
	row func(ctx context.Context, n int64)
	// done receives the error of every Search.
	done chan error
}

func (s *probeStore) Search(ctx context.Context, acct, mbox int64, c store.Criteria) ([]uint32, error) {
	ctx = store.WithSearchProbe(ctx, s.probe)
	if s.row != nil {
		s.probe.Row = func(n int64) { s.row(ctx, n) }
	}
	uids, err := s.Store.Search(ctx, acct, mbox, c)
	if s.done != nil {
		s.done <- err
	}
	return uids, err
}

func withProbe(ps *probeStore) envOption {
	return func(o *imapserver.Options) {
		ps.Store = o.Store
		o.Store = ps
	}
}

// bodyKeys is n BODY keys that match nothing.
func bodyKeys(n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString("BODY absent" + itoa(i))
	}
	return sb.String()
}

// TestSearchKeyLimit: a SEARCH with more keys than the limit is answered
// NO [LIMIT] without being evaluated, and the session goes on (issue 13,
// finding 8). Checked to fail before the fix (the search ran and said OK).
func TestSearchKeyLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.deliver("INBOX", storetest.Msg{Body: "hello\n"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	w.cmd("b SEARCH " + bodyKeys(999) + " BODY hello") // 1000 keys: fine
	// 1001 keys, the last a LITERAL+ literal that the loop must skip.
	w.send("c SEARCH " + bodyKeys(1000) + " BODY {5+}")
	w.sendRaw("hello\r\n")
	lines, done := w.until("c")
	if done != "c NO [LIMIT] Too many search keys (at most 1000)" || len(lines) != 0 {
		t.Fatalf("SEARCH with 1001 keys: %q %q", lines, done)
	}
	// Keys inside parentheses count too.
	w.send("d SEARCH UNSEEN (" + bodyKeys(999) + ")")
	if _, done := w.until("d"); !strings.HasPrefix(done, "d NO [LIMIT]") {
		t.Fatalf("SEARCH with 1001 keys in parentheses: %q", done)
	}
	if got := w.cmd("e SEARCH BODY hello"); len(got) != 1 || got[0] != "* SEARCH 1" {
		t.Fatalf("SEARCH after the refusal: %q", got)
	}
}

// TestSearchBodyDecodedOnce: however many BODY and TEXT keys a SEARCH
// has, each message body is decoded and lower-cased once (issue 13,
// finding 8: it was lower-cased once per key).
func TestSearchBodyDecodedOnce(t *testing.T) {
	t.Parallel()
	ps := &probeStore{probe: new(store.SearchProbe)}
	e := newEnv(t, withProbe(ps))
	e.deliver("INBOX",
		storetest.Msg{Body: "Hello World, quoted-printable caf=C3=A9\n", Encoding: "quoted-printable"},
		storetest.Msg{Body: "nothing to see\n"},
	)
	w := e.login()
	w.cmd("a SELECT INBOX")
	q := "b SEARCH " + strings.TrimSpace(strings.Repeat("BODY hello TEXT WORLD BODY CAF ", 40))
	if got := w.cmd(q); len(got) != 1 || got[0] != "* SEARCH 1" {
		t.Fatalf("SEARCH: %q", got)
	}
	if r, d := ps.probe.Rows.Load(), ps.probe.Decoded.Load(); r != 2 || d != 2 {
		t.Errorf("evaluated %d messages decoding %d bodies, want 2 and 2", r, d)
	}
	// Message 1 takes all 120 keys, message 2 fails the first.
	if k := ps.probe.Keys.Load(); k != 121 {
		t.Errorf("%d body key evaluations, want 121", k)
	}
}

// TestSearchStopsWhenClientGone: a client that sends a heavy SEARCH and
// disconnects makes the server stop evaluating it (issue 13, finding 8).
// The store's evaluation loop is held at its first message until the
// client has gone and the command's context is cancelled; the loop must
// then exit without evaluating the other messages. Checked to fail before
// the fix: the context was never cancelled and all messages were evaluated.
// Under TLS the client's close_notify is still unread before the FIN: the
// check must see the FIN behind it.
func TestSearchStopsWhenClientGone(t *testing.T) {
	t.Parallel()
	t.Run("plain", func(t *testing.T) { t.Parallel(); searchThenLeave(t, false) })
	t.Run("STARTTLS", func(t *testing.T) { t.Parallel(); searchThenLeave(t, true) })
}

func searchThenLeave(t *testing.T, useTLS bool) {
	const msgs = 20
	gone := make(chan struct{})
	ps := &probeStore{probe: new(store.SearchProbe), done: make(chan error, 1)}
	ps.row = func(ctx context.Context, n int64) {
		if n != 1 {
			return
		}
		close(gone)
		select {
		case <-ctx.Done():
		case <-time.After(ioWait):
		}
	}
	srvCfg, cliCfg := selfSigned(t)
	e := newEnv(t, withProbe(ps), func(o *imapserver.Options) { o.TLS = srvCfg })
	for i := range msgs {
		e.deliver("INBOX", storetest.Msg{Body: strings.Repeat("filler text "+itoa(i)+" ", 1000) + "\n"})
	}
	w := e.dial()
	if useTLS {
		w.cmd("s STARTTLS")
		w.startTLS(cliCfg)
	}
	w.cmd("L LOGIN " + testUser + ` "` + testPass + `"`)
	w.cmd("a SELECT INBOX")
	w.send("b SEARCH " + bodyKeys(500))
	select {
	case <-gone:
	case <-time.After(ioWait):
		t.Fatal("the search did not start")
	}
	w.nc.Close()
	var err error
	select {
	case err = <-ps.done:
	case <-time.After(2 * ioWait):
		t.Fatal("the search did not end")
	}
	if n := ps.probe.Rows.Load(); n != 1 || err == nil {
		t.Errorf("after the client left, the search evaluated %d of %d messages (err %v); want it stopped after the first", n, msgs, err)
	}
}

// TestSearchPipelinedNotAborted: a client that stays connected and has
// sent its next command while the SEARCH runs is not taken as gone: unread
// data is not a disconnect. The store loop is held at the first message
// for several check intervals.
func TestSearchPipelinedNotAborted(t *testing.T) {
	t.Parallel()
	held := make(chan struct{})
	ps := &probeStore{probe: new(store.SearchProbe)}
	ps.row = func(ctx context.Context, n int64) {
		if n != 1 {
			return
		}
		close(held)
		select {
		case <-ctx.Done():
		case <-time.After(5 * 100 * time.Millisecond):
		}
	}
	e := newEnv(t, withProbe(ps))
	e.deliver("INBOX", storetest.Msg{Body: "needle\n"}, storetest.Msg{Body: "hay\n"})
	w := e.login()
	w.cmd("a SELECT INBOX")
	w.send("b SEARCH BODY needle")
	<-held
	w.send("c NOOP")
	lines, done := w.until("b")
	if done != "b OK SEARCH completed" || len(lines) != 1 || lines[0] != "* SEARCH 1" {
		t.Fatalf("SEARCH with a pipelined command behind it: %q %q", lines, done)
	}
	if _, done := w.until("c"); !strings.HasPrefix(done, "c OK") {
		t.Fatalf("NOOP: %q", done)
	}
}

// BenchmarkSearchManyBodyKeys: one SEARCH of 1000 keys (the limit), 500
// NOT BODY, each a scan of the whole text, over a 1 MB text message. Before the body was lower-cased once per
// command it was lower-cased once per key (issue 13, finding 8).
func BenchmarkSearchManyBodyKeys(b *testing.B) {
	e := newEnv(b)
	var body strings.Builder
	for body.Len() < 1<<20 {
		body.WriteString("Lorem Ipsum dolor sit amet, consectetur adipiscing elit " + itoa(body.Len()) + "\n")
	}
	e.deliver("INBOX", storetest.Msg{Body: body.String()})
	w := e.login()
	w.cmd("a SELECT INBOX")
	q := "b SEARCH " + strings.ReplaceAll(bodyKeys(500), "BODY", "NOT BODY")
	b.ResetTimer()
	for range b.N {
		if got := w.cmd(q); len(got) != 1 || got[0] != "* SEARCH 1" {
			b.Fatalf("SEARCH: %q", got)
		}
	}
}
