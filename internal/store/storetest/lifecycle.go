package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"gannet/internal/store"
)

func lifecycleTests() []subtest {
	return []subtest{
		{"Close", testClose},
		{"CanceledContext", testCanceledContext},
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := account(t, s, "alice@example.org")
	sub := s.Subscribe(a.ID)
	noErr(t, "Close", s.Close())
	if _, err := s.Domains(ctx); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Domains after Close: %v, want ErrClosed", err)
	}
	_, err := s.Deliver(ctx, store.Delivery{Raw: Msg{}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
	wantErr(t, "Deliver after Close", err, store.ErrClosed)
	_, err = s.Account(ctx, "alice@example.org")
	wantErr(t, "Account after Close", err, store.ErrClosed)
	sub.Close() // must not panic or block
	if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func testCanceledContext(t *testing.T, s store.Store) {
	a := account(t, s, "alice@example.org")
	inbox := mbox(t, s, a.ID, "INBOX")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Deliver(ctx, store.Delivery{Raw: Msg{Subject: "canceled"}.Bytes(), Recipients: []store.Recipient{{AccountID: a.ID}}})
	wantErr(t, "Deliver with a canceled context", err, context.Canceled)
	_, err = s.Append(ctx, a.ID, inbox.ID, Msg{Subject: "canceled append"}.Bytes(), nil, time.Time{})
	wantErr(t, "Append with a canceled context", err, context.Canceled)
	if n := mbox(t, s, a.ID, "INBOX").Messages; n != 0 {
		t.Errorf("canceled writes stored %d messages", n)
	}
}
