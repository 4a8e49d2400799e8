package queue_test

import (
	"crypto/tls"
	"strings"
	"testing"

	"gannet/internal/queue"
	"gannet/internal/smtpclient/smtptest"
	"gannet/internal/store"
)

func TestMXPreferenceOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	primary := smtptest.Start(t, smtptest.Options{})
	backup := smtptest.Start(t, smtptest.Options{})
	// Listed backup first: the order must come from the preferences.
	e.dns.AddMX("example.net", "mx2.example.net", 20)
	e.dns.AddMX("example.net", "mx1.example.net", 10)
	e.dns.AddIP("mx1.example.net", "192.0.2.1")
	e.dns.AddIP("mx2.example.net", "192.0.2.2")
	e.route("192.0.2.1:25", primary.Addr)
	e.route("192.0.2.2:25", backup.Addr)
	q := e.newQueue(testConfig())
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	if len(primary.Messages()) != 1 || len(backup.Messages()) != 0 {
		t.Fatalf("primary got %d, backup %d; want the preferred MX", len(primary.Messages()), len(backup.Messages()))
	}
	// The preferred host goes away (and its first address too): the next
	// address, then the next MX host, is tried (RFC 5321 5.1).
	e.dns.AddIP("mx1.example.net", "192.0.2.11")
	e.route("192.0.2.1:25", "127.0.0.1:1") // nothing listens on port 1
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"carol@example.net"}})
	e.flush(q)
	if len(backup.Messages()) != 1 {
		t.Fatalf("backup got %d messages after the primary failed, want 1", len(backup.Messages()))
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue: %+v", got)
	}
}

func TestImplicitMXFromAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := smtptest.Start(t, smtptest.Options{})
	// No MX records: the domain's own address is the implicit MX (RFC 5321 5.1).
	e.dns.AddIP("example.net", "192.0.2.7")
	e.route("192.0.2.7:25", sink.Addr)
	q := e.newQueue(testConfig())
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	if len(sink.Messages()) != 1 {
		t.Fatalf("not delivered to the implicit MX")
	}
}

// bounceStatus enqueues one message to rcpt and returns the DSN's Status and
// Diagnostic-Code, checking that nothing stays queued.
func bounceStatus(t *testing.T, e *env, q *queue.Queue, rcpt string) (string, string) {
	t.Helper()
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{rcpt}, AccountID: e.alice.ID})
	e.flush(q)
	if got := e.queued(); len(got) != 0 {
		t.Fatalf("queue after a permanent routing failure: %+v", got)
	}
	d := e.onlyDSN(e.alice)
	return d.rcpts[0].Get("Status"), d.rcpts[0].Get("Diagnostic-Code")
}

func TestNullMXBounces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.dns.AddMX("example.net", ".", 0)
	e.dns.AddIP("example.net", "192.0.2.7") // must not be used
	q := e.newQueue(testConfig())
	status, diag := bounceStatus(t, e, q, "bob@example.net")
	if status != "5.1.10" || !strings.Contains(diag, "null MX") {
		t.Errorf("null MX: Status %q Diagnostic %q, want 5.1.10 (RFC 7505)", status, diag)
	}
}

func TestNoSuchDomainBounces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.newQueue(testConfig())
	status, _ := bounceStatus(t, e, q, "bob@nowhere.test")
	if status != "5.1.2" {
		t.Errorf("Status %q, want 5.1.2", status)
	}
}

func TestMXLoopBounces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.dns.AddMX("example.net", "gannet.test", 10) // we are its best MX
	e.dns.AddMX("example.net", "backup.example.net", 20)
	e.dns.AddIP("gannet.test", "192.0.2.1")
	e.dns.AddIP("backup.example.net", "192.0.2.2")
	q := e.newQueue(testConfig())
	status, _ := bounceStatus(t, e, q, "bob@example.net")
	if status != "5.4.6" {
		t.Errorf("Status %q, want 5.4.6 (mail loops back to myself)", status)
	}
}

func TestDNSFailureDefers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.dns.Fail("example.net", true)
	q := e.newQueue(testConfig())
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}, AccountID: e.alice.ID})
	e.flush(q)
	got := e.queued()
	if len(got) != 1 || got[0].Recipients[0].Attempts != 1 || !strings.Contains(got[0].Recipients[0].LastError, "4.4.3") {
		t.Fatalf("a temporary DNS failure must defer: %+v", got)
	}
	if in := e.inbox(e.alice); len(in) != 0 {
		t.Errorf("DSN for a temporary DNS failure")
	}
}

func TestUnreachableHostDefers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.dns.AddMX("example.net", "mx.example.net", 10)
	e.dns.AddIP("mx.example.net", "192.0.2.1") // not routed: connection refused
	q := e.newQueue(testConfig())
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	got := e.queued()
	if len(got) != 1 || got[0].Recipients[0].Attempts != 1 || !strings.Contains(got[0].Recipients[0].LastError, "cannot connect") {
		t.Fatalf("unreachable MX must defer: %+v", got)
	}
}

func TestSmarthostWithAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cert := smtptest.SelfSigned(t)
	relay := smtptest.Start(t, smtptest.Options{TLS: cert.Server, Users: map[string]string{"gannet": "relay-pw"}})
	cfg := testConfig()
	cfg.Smarthost = relay.Addr
	cfg.SmarthostUsername = "gannet"
	cfg.SmarthostPassword = "relay-pw"
	// The smarthost gets our password: its certificate is verified, here
	// against the test CA.
	q := e.newQueue(cfg, func(o *queue.Options) { o.SmarthostTLS = &tls.Config{RootCAs: cert.Pool} })
	// No DNS records at all: a smarthost route must not look anything up.
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net", "carol@example.org"}})
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"dave@example.net"}})
	e.flush(q)
	// Both recipients of the first message in one transaction (one route),
	// and the second message on the same connection.
	msgs := relay.Messages()
	if len(msgs) != 2 || len(msgs[0].To) != 2 || relay.Connections() != 1 {
		t.Fatalf("relay got %d messages on %d connections, want 2 on 1", len(msgs), relay.Connections())
	}
	for _, m := range msgs {
		if m.User != "gannet" || !m.TLS {
			t.Errorf("message relayed with user %q tls %v", m.User, m.TLS)
		}
	}
}

func TestSmarthostBadCredentialsDefer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cert := smtptest.SelfSigned(t)
	relay := smtptest.Start(t, smtptest.Options{TLS: cert.Server, Users: map[string]string{"gannet": "relay-pw"}})
	cfg := testConfig()
	cfg.Smarthost = relay.Addr
	cfg.SmarthostUsername = "gannet"
	cfg.SmarthostPassword = "wrong"
	q := e.newQueue(cfg, func(o *queue.Options) { o.SmarthostTLS = &tls.Config{RootCAs: cert.Pool} })
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}, AccountID: e.alice.ID})
	e.flush(q)
	// A configuration error on our side must not bounce the user's mail.
	got := e.queued()
	if len(got) != 1 || !strings.Contains(got[0].Recipients[0].LastError, "535") {
		t.Fatalf("bad smarthost password must defer: %+v", got)
	}
	if strings.Contains(got[0].Recipients[0].LastError, "wrong") {
		t.Error("the password leaked into the queue's error text")
	}
	if in := e.inbox(e.alice); len(in) != 0 {
		t.Error("DSN sent for a smarthost authentication failure")
	}
}

func TestSmarthostUnverifiedCertificateDefers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cert := smtptest.SelfSigned(t)
	relay := smtptest.Start(t, smtptest.Options{TLS: cert.Server, Users: map[string]string{"gannet": "relay-pw"}})
	cfg := testConfig()
	cfg.Smarthost = relay.Addr
	cfg.SmarthostUsername = "gannet"
	cfg.SmarthostPassword = "relay-pw"
	q := e.newQueue(cfg) // default: system roots, which do not know the test CA
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	if len(relay.Messages()) != 0 || len(e.queued()) != 1 {
		t.Fatal("credentials must not go to a smarthost whose certificate fails verification, nor in the clear")
	}
}

func TestTransportOverridesSmarthost(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	direct := smtptest.Start(t, smtptest.Options{})
	relay := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig()
	cfg.Smarthost = relay.Addr
	cfg.Transports["example.net"] = direct.Addr
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net", "carol@example.org"}})
	e.flush(q)
	d, r := direct.Messages(), relay.Messages()
	if len(d) != 1 || d[0].To[0] != "bob@example.net" || len(r) != 1 || r[0].To[0] != "carol@example.org" {
		t.Errorf("transport got %+v, smarthost got %+v", d, r)
	}
}
