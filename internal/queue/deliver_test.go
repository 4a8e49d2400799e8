package queue_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"testing"

	"gannet/internal/queue"
	"gannet/internal/smtpclient/smtptest"
	"gannet/internal/store"
)

func TestDeliverThroughTransport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	raw := message("alice@example.com", "bob@example.net", "transport")
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net", "carol@example.net"}, Raw: raw, AccountID: e.alice.ID})
	if got := e.queued(); len(got) != 1 || len(got[0].Recipients) != 2 {
		t.Fatalf("queue after Enqueue: %+v", got)
	}
	e.flush(q)
	msgs := sink.Messages()
	if len(msgs) != 1 {
		t.Fatalf("sink got %d messages, want 1 (one transaction for both recipients)", len(msgs))
	}
	m := msgs[0]
	if m.From != "alice@example.com" || len(m.To) != 2 || !bytes.Equal(m.Data, raw) {
		t.Errorf("sink got from %q to %v data %q", m.From, m.To, m.Data)
	}
	if q := e.queued(); len(q) != 0 {
		t.Errorf("queue not empty after delivery: %+v", q)
	}
	if in := e.inbox(e.alice); len(in) != 0 {
		t.Errorf("sender got %d messages (a DSN for a success nobody asked for?)", len(in))
	}
}

func TestConnectionReusedForSeveralMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sink := smtptest.Start(t, smtptest.Options{})
	cfg := testConfig()
	// Two domains with the same transport host share its connection too.
	cfg.Transports["example.net"] = sink.Addr
	cfg.Transports["example.org"] = sink.Addr
	q := e.newQueue(cfg)
	for _, to := range []string{"a@example.net", "b@example.net", "c@example.org", "d@example.net"} {
		e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{to}})
	}
	e.flush(q)
	if n := len(sink.Messages()); n != 4 {
		t.Fatalf("sink got %d messages, want 4", n)
	}
	if c := sink.Connections(); c != 1 {
		t.Errorf("%d connections for 4 messages to one host, want 1", c)
	}
	if q := e.queued(); len(q) != 0 {
		t.Errorf("queue not empty: %+v", q)
	}
}

func TestStartTLSUsedWhenOffered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cert := smtptest.SelfSigned(t)
	sink := smtptest.Start(t, smtptest.Options{TLS: cert.Server})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	// Default TLS options: opportunistic, so the self-signed certificate is
	// accepted without configuration.
	q := e.newQueue(cfg)
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	msgs := sink.Messages()
	if len(msgs) != 1 || !msgs[0].TLS {
		t.Fatalf("messages %+v: want one, received over TLS", msgs)
	}
}

func TestFailedTLSFallsBackToClear(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cert := smtptest.SelfSigned(t)
	srvTLS := cert.Server.Clone()
	srvTLS.MinVersion = tls.VersionTLS13
	sink := smtptest.Start(t, smtptest.Options{TLS: srvTLS})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	// A client that cannot agree on a version with the server: the handshake
	// fails, and opportunistic TLS must still deliver, in the clear.
	q := e.newQueue(cfg, func(o *queue.Options) {
		o.TLS = &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}
	})
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	e.flush(q)
	msgs := sink.Messages()
	if len(msgs) != 1 || msgs[0].TLS {
		t.Fatalf("messages %+v: want one, in the clear after the failed handshake", msgs)
	}
}

func TestQueueSurvivesRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	q := e.newQueue(testConfig()) // no route to anywhere: never started
	raw := message("alice@example.com", "bob@example.net", "durable")
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}, Raw: raw,
		AccountID: e.alice.ID, EnvID: "env-1", Ret: "HDRS", Notify: map[string]string{"bob@example.net": "FAILURE"}})
	q.Close()
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}

	e.open()
	sink := smtptest.Start(t, smtptest.Options{DSN: true})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q = e.newQueue(cfg)
	got := e.queued()
	if len(got) != 1 || got[0].EnvID != "env-1" || got[0].Ret != "HDRS" || got[0].Recipients[0].Notify != "FAILURE" {
		t.Fatalf("queue after reopening: %+v", got)
	}
	q.Start()
	m := sink.Wait(t, 1)[0]
	if !bytes.Equal(m.Data, raw) || m.MailOpts.EnvelopeID != "env-1" {
		t.Errorf("delivered %q envid %q", m.Data, m.MailOpts.EnvelopeID)
	}
	// A message enqueued while the queue runs is sent at once (Enqueue kicks).
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"carol@example.net"}})
	sink.Wait(t, 2)
	if err := q.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.queued(); len(got) != 0 {
		t.Errorf("queue after delivery: %+v", got)
	}
}

func TestShutdownAbortsStalledSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reached := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	sink := smtptest.Start(t, smtptest.Options{DataHook: func() {
		reached <- struct{}{}
		<-release
	}})
	cfg := testConfig()
	cfg.Transports["example.net"] = sink.Addr
	q := e.newQueue(cfg)
	q.Start()
	e.enqueue(q, store.Outbound{From: "alice@example.com", Recipients: []string{"bob@example.net"}})
	<-reached
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace at all: the stalled session must be aborted
	if err := q.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want context.Canceled", err)
	}
	got := e.queued()
	if len(got) != 1 || got[0].Recipients[0].Attempts != 0 {
		t.Errorf("after an aborted attempt the message must stay queued untouched: %+v", got)
	}
	if err := q.Enqueue(context.Background(), store.Outbound{From: "alice@example.com", Recipients: []string{"x@example.net"}, Raw: []byte("x\r\n")}); err != nil {
		t.Errorf("Enqueue after Shutdown: %v (it must still store the message)", err)
	}
}
