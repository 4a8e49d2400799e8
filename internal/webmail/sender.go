package webmail

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gannet/internal/store"
)

// Sender hands a composed message to the mail system: local recipients are
// delivered, remote ones queued. The submission path (package delivery)
// implements it in the gannet binary; LocalSender is a local-only one.
type Sender interface {
	// Send delivers raw from the account's address from to rcpts. An error
	// wrapping a *SendError carries a text the user may see; any other
	// error is reported to the user only as "sending failed".
	Send(ctx context.Context, accountID int64, from string, rcpts []string, raw []byte) error
}

// SendError is a refusal the user may be told about as is (an unknown
// recipient, a policy refusal). Its text must reveal nothing internal.
type SendError struct {
	Public string // shown to the user
	Err    error  // the cause, for the log
}

func (e *SendError) Error() string {
	if e.Err != nil {
		return e.Public + ": " + e.Err.Error()
	}
	return e.Public
}

func (e *SendError) Unwrap() error { return e.Err }

// LocalSender delivers to local accounts only, through store.Resolve and
// store.Deliver; it refuses remote recipients. It exists for tests and for
// a webmail without the submission path.
type LocalSender struct {
	Store store.Store
}

// Send implements Sender. Either every recipient is delivered or none is.
func (l LocalSender) Send(ctx context.Context, accountID int64, from string, rcpts []string, raw []byte) error {
	d := store.Delivery{Raw: raw}
	seen := map[int64]bool{}
	for _, rc := range rcpts {
		res, err := l.Store.Resolve(ctx, rc)
		if errors.Is(err, store.ErrNotFound) {
			domain := rc[strings.LastIndexByte(rc, '@')+1:]
			local, lerr := l.Store.IsLocalDomain(ctx, domain)
			if lerr != nil {
				return fmt.Errorf("check domain of %s: %w", rc, lerr)
			}
			if local {
				return &SendError{Public: "no such recipient: " + rc, Err: err}
			}
			return &SendError{Public: "remote delivery unavailable: " + rc}
		}
		if err != nil {
			return fmt.Errorf("resolve %s: %w", rc, err)
		}
		if len(res.Remote) > 0 {
			return &SendError{Public: "remote delivery unavailable: " + rc}
		}
		for _, a := range res.Local {
			if !seen[a.ID] {
				seen[a.ID] = true
				d.Recipients = append(d.Recipients, store.Recipient{AccountID: a.ID})
			}
		}
	}
	if len(d.Recipients) == 0 {
		return &SendError{Public: "no recipients"}
	}
	results, err := l.Store.Deliver(ctx, d)
	if err != nil {
		return fmt.Errorf("deliver: %w", err)
	}
	for _, r := range results {
		if errors.Is(r.Err, store.ErrOverQuota) {
			return &SendError{Public: "a recipient's mailbox is full", Err: r.Err}
		}
		if r.Err != nil {
			return fmt.Errorf("deliver: %w", r.Err)
		}
	}
	return nil
}
