package queue_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"strings"
	"sync"
	"testing"
	"time"

	"gannet/internal/config"
	"gannet/internal/dnsx"
	"gannet/internal/queue"
	"gannet/internal/store"
	"gannet/internal/store/testopen"
)

// clock is the queue's injected clock: tests move it instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one test's world: a real store (testopen) with alice@example.com, a fake
// DNS, a clock, and a dialer that maps fake MX addresses to test servers.
type env struct {
	t     *testing.T
	loc   *testopen.Location // reopened by open, as after a restart
	st    store.Store
	clock *clock
	dns   *dnsx.Fake
	alice *store.Account

	mu     sync.Mutex
	routes map[string]string // "192.0.2.1:25" → "127.0.0.1:port"
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t:      t,
		loc:    testopen.New(t, testopen.FastPasswords),
		clock:  &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)},
		dns:    &dnsx.Fake{},
		routes: map[string]string{},
	}
	e.open()
	ctx := context.Background()
	if err := e.st.AddDomain(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	a, err := e.st.AddAccount(ctx, "alice@example.com", "pw")
	if err != nil {
		t.Fatal(err)
	}
	e.alice = a
	return e
}

func (e *env) open() {
	e.t.Helper()
	e.st = e.loc.Open(e.t)
}

// route makes connections to fake (e.g. "192.0.2.1:25") reach real.
func (e *env) route(fake, real string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.routes[fake] = real
}

func (e *env) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	e.mu.Lock()
	real, ok := e.routes[addr]
	e.mu.Unlock()
	if !ok {
		if strings.HasPrefix(addr, "127.0.0.1:") {
			real = addr
		} else {
			return nil, fmt.Errorf("dial %s: connection refused (test network)", addr)
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

func testConfig() config.Queue {
	c := config.Default().Queue
	c.Transports = map[string]string{}
	return c
}

// newQueue makes a queue over the env; change adjusts its options.
func (e *env) newQueue(cfg config.Queue, change ...func(*queue.Options)) *queue.Queue {
	o := queue.Options{
		Store:    e.st,
		Resolver: e.dns,
		Hostname: "gannet.test",
		Config:   cfg,
		Logger:   slog.New(slog.NewTextHandler(e.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      e.clock.Now,
		Dial:     e.dial,
	}
	for _, f := range change {
		f(&o)
	}
	q := queue.New(o)
	e.t.Cleanup(func() { q.Close() })
	return q
}

func message(from, to, subject string) []byte {
	return []byte("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@example.com>\r\n\r\nHello,\r\n.leading dot\r\nbye\r\n")
}

func (e *env) enqueue(q *queue.Queue, m store.Outbound) {
	e.t.Helper()
	if m.Raw == nil {
		m.Raw = message(m.From, m.Recipients[0], "test")
	}
	if err := q.Enqueue(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) flush(q *queue.Queue) {
	e.t.Helper()
	if err := q.Flush(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) queued() []store.QueuedMessage {
	e.t.Helper()
	ms, err := e.st.QueueList(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// inbox returns the raw messages in an account's INBOX.
func (e *env) inbox(a *store.Account) [][]byte {
	e.t.Helper()
	ctx := context.Background()
	mb, err := e.st.Mailbox(ctx, a.ID, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.st.List(ctx, a.ID, mb.ID, nil, store.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		rc, err := e.st.Open(ctx, m.BlobID)
		if err != nil {
			e.t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// dsn is a parsed RFC 3464 report.
type dsn struct {
	header   mail.Header
	human    string
	perMsg   textproto.MIMEHeader
	rcpts    []textproto.MIMEHeader
	retType  string // content type of the third part, "" if none
	returned []byte
}

// parseDSN checks the RFC 3464 / RFC 6522 structure and returns the parts.
func parseDSN(t *testing.T, raw []byte) dsn {
	t.Helper()
	if bytes.Contains(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("DSN has bare LF line endings")
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("DSN does not parse: %v", err)
	}
	d := dsn{header: m.Header}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("DSN Content-Type %q (%v), want multipart/report; report-type=delivery-status", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for i := 0; ; i++ {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			if i < 2 {
				t.Fatalf("DSN has %d parts, want at least 2", i)
			}
			break
		}
		if err != nil {
			t.Fatalf("DSN part %d: %v", i, err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch i {
		case 0:
			if ct != "text/plain" {
				t.Errorf("part 1 is %q, want text/plain", ct)
			}
			d.human = string(body)
		case 1:
			if ct != "message/delivery-status" {
				t.Errorf("part 2 is %q, want message/delivery-status", ct)
			}
			r := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
			for j := 0; ; j++ {
				h, err := r.ReadMIMEHeader()
				if len(h) > 0 {
					if j == 0 {
						d.perMsg = h
					} else {
						d.rcpts = append(d.rcpts, h)
					}
				}
				if err != nil {
					break
				}
			}
		case 2:
			d.retType = ct
			d.returned = body
		default:
			t.Errorf("DSN has an unexpected part %d (%s)", i+1, ct)
		}
	}
	if d.perMsg.Get("Reporting-Mta") != "dns; gannet.test" {
		t.Errorf("Reporting-MTA = %q", d.perMsg.Get("Reporting-Mta"))
	}
	if len(d.rcpts) == 0 {
		t.Fatal("DSN has no per-recipient fields")
	}
	for _, r := range d.rcpts {
		for _, f := range []string{"Final-Recipient", "Action", "Status"} {
			if r.Get(f) == "" {
				t.Errorf("per-recipient block lacks %s: %v", f, r)
			}
		}
	}
	return d
}

// onlyDSN returns the single DSN in the account's INBOX.
func (e *env) onlyDSN(a *store.Account) dsn {
	e.t.Helper()
	in := e.inbox(a)
	if len(in) != 1 {
		e.t.Fatalf("INBOX of %s has %d messages, want 1 DSN", a.Address, len(in))
	}
	return parseDSN(e.t, in[0])
}
